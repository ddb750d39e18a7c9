"""The qemu-<target> and device-log runners through the validator's runner interface."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from edge_rnn.errors import EdgeRnnError
from edge_rnn.manifest import ManifestEntry
from edge_rnn.ontarget import missing_tools
from edge_rnn.ontarget.latency import COSTS, mix_from_memory
from edge_rnn.protocol import write_protocol
from edge_rnn.runtimes.base import (
    Artefact,
    ModelMeta,
    RunContext,
    RunnerSkipped,
    get_runner,
    runners_for,
)
from edge_rnn.runtimes.qemu import selected_targets
from edge_rnn.targets import list_targets, load_target
from tests.test_ontarget import X, _model_dir

META = ModelMeta(name="toy", input_shape=(4, 3), output_shape=(3,))


@pytest.mark.arm
def test_qemu_runner_runs_native_artefact(tmp_path: Path) -> None:
    if missing_tools(load_target("cortex-m4f")):
        pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm (bash scripts/setup.sh --arm)")
    artefact = Artefact("native_float32", _model_dir(tmp_path), "native-c", "float32")
    ctx = RunContext(work_dir=tmp_path / "work")
    result = get_runner("qemu-cortex-m4f").run(artefact, X, META, ctx)
    assert result.outputs.shape == (len(X), 3) and result.outputs.dtype == np.float32
    assert result.memory["flash_bytes"] > 0 and result.memory["instructions_per_inference"] > 0
    count = result.memory["instructions_per_inference"]
    mix = mix_from_memory(result.memory)  # counted by class: the estimate is that mix's cycles
    assert mix is not None and abs(sum(mix.values()) - count) <= len(mix)
    cycles = round(COSTS["cortex-m4"].cycles(mix))
    assert result.memory["estimated_cycles_per_inference"] == cycles
    cpi = round(cycles / count, 3)
    note = f"{count:,} instructions per inference, about {round(cycles / 64e3, 4):g} ms at 64 MHz "
    note += f"(estimate: {cpi} cycles per instruction from the counted mix"
    assert any(n.startswith(note) for n in result.notes), result.notes
    assert not get_runner("qemu-cortex-m4f").supports(artefact, {"targets": ["cortex-m3"]})


@pytest.mark.arm
def test_qemu_runner_judges_the_model_against_the_board(tmp_path: Path) -> None:
    """Fit figures are the model's (not the harness's) against the board `edge-rnn targets`
    lists; fits the board but not the emulator: skipped; fits no board: advice that can work."""
    for name in ("cortex-m0plus", "cortex-m4f"):
        if missing_tools(load_target(name)):
            pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm (bash scripts/setup.sh --arm)")

    def artefact(name: str, quant: str, floats: int = 0) -> Artefact:
        extra = f"static const float big[{floats}] = {{1.0f}};" if floats else ""
        model = _model_dir(tmp_path / name, extra, " + big[x[0] > 0.0f]" if floats else "")
        return Artefact(name, model, "native-c", quant)

    ctx = RunContext(work_dir=tmp_path / "work")
    m0 = get_runner("qemu-cortex-m0plus")
    memory = m0.run(artefact("small", "int8"), X, META, ctx).memory
    assert memory["fits"] == 1
    assert (memory["board_flash_bytes"], memory["board_ram_bytes"]) == (2048 * 1024, 264 * 1024)
    assert memory["flash_bytes"] < memory["harness_flash_bytes"] / 2
    assert memory["stack_bytes"] < memory["ram_bytes"] < memory["harness_ram_bytes"]
    with pytest.raises(RunnerSkipped, match=r"fits Raspberry Pi Pico.*, but the validation fi"):
        m0.run(artefact("roomy", "int8", 80_000), X, META, ctx)
    # Beyond the Nano 33's 1 MiB but inside the emulated 4 MiB: runs, fits=0, advice in notes.
    m4 = get_runner("qemu-cortex-m4f")
    result = m4.run(artefact("huge_f32", "float32", 300_000), X, META, ctx)
    assert result.memory["fits"] == 0 and result.outputs.shape == (len(X), 3)
    advice = next(note for note in result.notes if "does NOT fit" in note)
    assert "'huge_f32' does NOT fit Arduino Nano 33 BLE Sense" in advice
    assert "native int8w or int8 mode" in advice
    assert re.search(r"\(these sizes fit [^)]*cortex-m0plus", advice)
    notes = m4.run(artefact("huge_i8", "int8", 300_000), X, META, ctx).notes
    advice = next(note for note in notes if "does NOT fit" in note)
    assert "the native int8w mode" in advice and "fewer units" in advice
    notes = m4.run(artefact("huge_i8w", "int8w", 300_000), X, META, ctx).notes
    advice = next(note for note in notes if "does NOT fit" in note)
    assert "the native" not in advice and "fewer units" in advice  # nothing smaller than int8w
    # Beyond the Pico and the micro:bit: the stage fails with the sizes.
    with pytest.raises(EdgeRnnError, match=r"does NOT fit Raspberry Pi Pico .* fewer units"):
        m0.run(artefact("giant", "int8", 600_000), X, META, ctx)


@pytest.mark.arm
def test_qemu_runner_on_a_riscv_board(tmp_path: Path) -> None:
    """qemu-gd32vf103: the same runner on qemu-system-riscv32 (soft float RV32IMAC), judged
    against the GD32VF103's 128 KB flash / 32 KB SRAM; a model too big names roomier boards."""
    missing = missing_tools(load_target("gd32vf103"))
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (bash scripts/setup.sh --arm)")
    runner, ctx = get_runner("qemu-gd32vf103"), RunContext(work_dir=tmp_path / "work")
    small = Artefact("small", _model_dir(tmp_path / "small"), "native-c", "float32")
    result = runner.run(small, X, META, ctx)
    assert result.outputs.shape == (len(X), 3) and result.memory["fits"] == 1
    assert result.memory["board_flash_bytes"] == 128 * 1024
    assert 0 < result.memory["flash_bytes"] < result.memory["harness_flash_bytes"]
    assert result.memory["instructions_per_inference"] > 100
    assert any("GD32VF103 on qemu-system-riscv32" in note for note in result.notes)
    extra, use = "static const float big[40000] = {1.0f};", " + big[x[0] > 0.0f]"
    big_model = _model_dir(tmp_path / "big", extra, use)
    big = Artefact("big", big_model, "native-c", "float32")
    advice = next(n for n in runner.run(big, X, META, ctx).notes if "does NOT fit" in n)
    assert "does NOT fit Sipeed Longan Nano" in advice and "esp32-c3" in advice


def test_device_log_runner_dequantizes_integer_logs(tmp_path: Path) -> None:
    raw = np.array([[-128, 0, 127]] * 6)
    log = tmp_path / "dev.log"
    log.write_text("boot\n" + write_protocol("toy", raw, "i8", {"instructions": 99}))
    entry = ManifestEntry(
        "device", str(log), "device-log", "int8", output_scale=0.5, output_zero_point=-1
    )
    artefact = Artefact("device", log, "device-log", "int8", entry)
    result = get_runner("device-log").run(artefact, X, META, RunContext(work_dir=tmp_path))
    assert np.array_equal(result.raw_outputs, raw)
    assert np.allclose(result.outputs[0], [-63.5, 0.5, 64.0])
    assert "instructions=99" in result.notes
    wrong = Artefact("device", log, "device-log", "int8")
    with pytest.raises(EdgeRnnError, match="need the artefact's output_scale"):
        get_runner("device-log").run(wrong, X, META, RunContext(work_dir=tmp_path))
    with pytest.raises(EdgeRnnError, match="has 6 samples but validation uses 2 windows"):
        get_runner("device-log").run(artefact, X[:2], META, RunContext(work_dir=tmp_path))


def test_qemu_target_selection_rules(tmp_path: Path) -> None:
    def native(quant: str, target: tuple[str, ...] = ()) -> Artefact:
        entry = ManifestEntry(f"native_{quant}", ".", "native-c", quant, target=target)
        return Artefact.from_entry(entry, tmp_path)

    assert selected_targets(native("float32"), {}) == ("cortex-m4f",)
    assert selected_targets(native("int8w"), {}) == ("cortex-m4f",)
    assert selected_targets(native("int8"), {}) == ("cortex-m4f", "cortex-m0plus")
    assert selected_targets(native("int8", target=("cortex-m55",)), {}) == ("cortex-m55",)
    both = native("int8", target=("cortex-m3", "rpi-aarch64"))
    assert selected_targets(both, {}) == ("cortex-m3", "rpi-aarch64")
    assert selected_targets(both, {"targets": ["cortex-m7"]}) == ("cortex-m7",)
    assert len(selected_targets(native("int8"), {"targets": ["all"]})) == len(list_targets())
    with pytest.raises(EdgeRnnError, match=r"'native_int8': unknown target cortex-m99; use one"):
        selected_targets(native("int8", target=("cortex-m99",)), {})
    # Not selected by default: no M3 stage for a float32 artefact; asked for, there is one.
    stages = {runner.name for runner in runners_for(native("float32"))}
    assert "qemu-cortex-m3" not in stages and "qemu-cortex-m4f" in stages
    assert "qemu-cortex-m3" in {
        r.name for r in runners_for(native("float32"), {"targets": ["all"]})
    }


def test_fit_advice_names_streaming_when_the_window_buffer_is_the_ram() -> None:
    """400 steps x 3 features on a 2 KiB board: the stored window (4,800 B) is what does not
    fit, not the model; `_step` needs no window, so the advice says so with the RAM left."""
    from edge_rnn.ontarget.fit import ModelFit
    from edge_rnn.runtimes.qemu import fit_advice

    meta = ModelMeta(name="long_model", input_shape=(400, 3), output_shape=(1,))
    fit = ModelFit(load_target("ch32v003"), 12_284, static_ram_bytes=5_304, stack_bytes=440)
    entry = ManifestEntry("native_int8w", "native/int8w", "native-c", "int8w", streaming=True)
    streams = Artefact("native_int8w", Path("native/int8w"), "native-c", "int8w", entry)
    advice = fit_advice(fit, streams, meta)
    assert "long_model_step on each time step" in advice
    assert "no 4,800 B window buffer: RAM about 944 B" in advice
    whole = Artefact("native_int8w", Path("native/int8w"), "native-c", "int8w")  # no _step
    assert "_step" not in fit_advice(fit, whole, meta)
