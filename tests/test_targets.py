"""Board/core profiles: every shipped file loads; bad files fail naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_rnn.cli import main
from edge_rnn.errors import EdgeRnnError
from edge_rnn.targets import TARGETS_DIR, list_targets, load_target

EXPECTED = {
    "cortex-m0plus": "microbit",
    "cortex-m3": "mps2-an385",
    "cortex-m4f": "mps2-an386",
    "cortex-m7": "mps2-an500",
    "cortex-m33": "mps2-an505",
    "cortex-m55": "mps3-an547",
    "esp32-c3": "virt",
    "esp32-c6": "virt",
    "gd32vf103": "virt",
    "ch32v003": "virt",
    "ch32v307": "virt",
    "rpi-aarch64": "",
    "rpi-armhf": "",
}


def test_shipped_targets_load_and_are_consistent() -> None:
    targets = {t.name: t for t in list_targets()}
    assert {name: t.emulator.machine for name, t in targets.items()} == EXPECTED
    for target in targets.values():
        if not target.has_fpu:
            assert target.default_quantization == "int8"
            soft_abi = "-mabi=ilp32" in target.cflags or "-mabi=ilp32e" in target.cflags
            assert soft_abi if target.kind == "riscv" else "-mfloat-abi=soft" in target.cflags
        else:
            assert "-ffp-contract=off" in target.cflags  # float results equal the x86 host
    micro = targets["cortex-m0plus"]
    assert (micro.flash_kib, micro.ram_kib) == (2048, 264)  # the Pico: what fit checks use
    assert (micro.emulator.flash_kib, micro.emulator.ram_kib) == (256, 16)  # the micro:bit
    assert targets["rpi-aarch64"].emulator.sysroot == "/usr/aarch64-linux-gnu"
    assert load_target(TARGETS_DIR / "cortex-m4f.toml").core == "cortex-m4"
    c3 = targets["esp32-c3"]  # the chip's datasheet figures; the emulator links into virt DRAM
    assert (c3.kind, c3.flash_kib, c3.ram_kib, c3.clock_mhz) == ("riscv", 4096, 400, 160)
    assert "-march=rv32imc" in c3.cflags and c3.emulator.cpu.startswith("rv32,")
    assert c3.emulator.ram_origin >= c3.emulator.flash_origin + c3.emulator.flash_kib * 1024


def _write_variant(tmp_path: Path, old: str, new: str) -> Path:
    text = (TARGETS_DIR / "cortex-m4f.toml").read_text()
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    "old,new,match",
    [
        ('kind = "cortex-m"', 'kind = "fpga"', r"field 'kind' is 'fpga': use one of cortex-m"),
        ("flash_kib = 1024", "flash_kib = -1", r"field 'flash_kib' must be a positive"),
        ("flash_kib = 1024", 'flash_kib = "1M"', r"field 'flash_kib' must be int, got '1M'"),
        ("dsp = true", "dsp = 1", r"field 'dsp' must be bool"),
        ('cflags = ["', 'cflags = ["", "', r"field 'cflags' must be a list of non-empty"),
        ('machine = "mps2-an386"\n', "", r"field 'emulator.machine' is missing"),
        ('board = "', 'bord = "', r"field 'board' is missing"),
        ("ram_kib = 4096", "ram_kib = 4096\nram_kb = 4", r"field 'emulator.ram_kb' is not a known"),
        ('default_quantization = "int8w"', 'default_quantization = "int4"', r"use one of float32"),
        ('fpu = "fpv4-sp-d16"', 'fpu = "none"', r"'default_quantization' must be 'int8' on a core"),
        ("[emulator]", "[emulator", r"is not valid TOML"),
    ],
)
def test_bad_target_file_names_file_and_field(
    tmp_path: Path, old: str, new: str, match: str
) -> None:
    path = _write_variant(tmp_path, old, new)
    with pytest.raises(EdgeRnnError, match=match) as info:
        load_target(path)
    assert str(path) in str(info.value)


def test_unknown_target_lists_known_ones() -> None:
    with pytest.raises(EdgeRnnError, match=r"unknown target 'cortex-m99': use one of .*cortex-m4f"):
        load_target("cortex-m99")


def test_targets_command_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["targets"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:6] == ["target", "core", "fpu", "flash", "ram", "default"]
    m4f = next(line for line in out if line.startswith("cortex-m4f "))
    assert "mps2-an386" in m4f and "1 MiB" in m4f and "nRF52840" in m4f
    m0 = next(line for line in out if line.startswith("cortex-m0plus "))
    assert m0.split()[3:5] == ["2", "MiB"] and "264 KiB" in m0  # the Pico: fit checks use it
    assert "-M microbit (256 KiB/16 KiB)" in m0  # only limits the emulated runs
