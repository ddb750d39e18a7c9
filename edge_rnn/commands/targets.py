"""`edge-rnn targets`: list the board/core profiles in targets/*.toml.

flash and ram are the board's: what fit checks compare a model + runtime with. The emulator
column adds the emulated machine's own flash/RAM, which only limits what runs under QEMU."""

from __future__ import annotations

import argparse

from edge_rnn.targets import Target, list_targets


def _memory(kib: int) -> str:
    if kib == 0:
        return "-"
    return f"{kib // 1024} MiB" if kib >= 1024 and kib % 1024 == 0 else f"{kib} KiB"


def _row(target: Target) -> list[str]:
    emulator = target.emulator
    where = emulator.qemu
    if emulator.machine:  # its own memory map: what the validation firmware is linked for
        where += (
            f" -M {emulator.machine} ({_memory(emulator.flash_kib)}/{_memory(emulator.ram_kib)})"
        )
    return [
        target.name,
        target.core,
        target.fpu + (" +DSP" if target.dsp and target.kind == "cortex-m" else ""),
        _memory(target.flash_kib),
        _memory(target.ram_kib),
        target.default_quantization,
        where,
        target.board,
    ]


def format_table(targets: list[Target]) -> str:
    header = ["target", "core", "fpu", "flash", "ram", "default", "emulator", "board"]
    rows = [header] + [_row(target) for target in targets]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join([cell.ljust(width) for cell, width in zip(row, widths, strict=False)] + [row[-1]])
        for row in rows
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    targets = list_targets()
    print(format_table(targets))
    if args.verbose:
        for target in targets:
            print(f"\n{target.name}: {' '.join(target.cflags)}\n  {target.notes}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "targets", help="list the board/core profiles (flash, RAM, FPU, emulator)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="also print flags and notes")
    parser.set_defaults(func=run)
