"""The deployment table and recommendation from on-target stages, the stage failure of a model
that does not fit its board, and the table and plot in report.json / report.html, loaded in
headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from edge_rnn.validate.deployment import deployment_table, fit_failure
from edge_rnn.validate.report import write_reports
from edge_rnn.validate.stages import FAILED, PASSED, Report, StageResult

PICO = {"board_flash_bytes": 2048 * 1024, "board_ram_bytes": 264 * 1024}


def _stage(artefact: str, target: str, flash: int, ram: int, status: str = PASSED) -> StageResult:
    fits = int(flash <= PICO["board_flash_bytes"] and ram <= PICO["board_ram_bytes"])
    memory = {"flash_bytes": flash, "ram_bytes": ram, **PICO, "fits": fits}
    memory["instructions_per_inference"] = flash // 10
    stage = StageResult(
        f"{artefact}/qemu-{target}", artefact, "native/x", f"qemu-{target}", "native-c", "int8"
    )
    stage.status, stage.memory = status, memory
    stage.metrics = {"max_abs": flash / 1e7, "rel_l2": flash / 1e8, "accuracy": 0.9}
    stage.metrics["top1_agreement"] = 0.99
    return stage


def _stages() -> list[StageResult]:
    return [
        _stage("native_float32", "cortex-m0plus", 300_000, 9_000),
        _stage("native_int8", "cortex-m0plus", 80_000, 3_000),
        _stage("native_int8w", "cortex-m0plus", 60_000, 4_000, status=FAILED),  # thresholds
        _stage("native_float32", "cortex-m4f", 3_000_000, 9_000),  # too big for the board
        StageResult("tflite_int8/tflm", "tflite_int8", "t", "tflm", "tflite", "int8"),
    ]


def test_recommendation_is_the_smallest_artefact_that_fits_and_passed() -> None:
    table = deployment_table(_stages(), allow_skip=False)
    assert [(r["artefact"], r["target"]) for r in table["rows"]] == [
        ("native_float32", "cortex-m0plus"),
        ("native_int8", "cortex-m0plus"),
        ("native_int8w", "cortex-m0plus"),
        ("native_float32", "cortex-m4f"),
    ]
    assert table["recommendation"] == {"cortex-m0plus": "native_int8", "cortex-m4f": None}
    row = table["rows"][1]
    assert (row["flash_bytes"], row["fits"], row["passed"], row["instructions"]) == (
        80_000,
        True,
        True,
        8_000,
    )
    # 8,000 instructions x 1.45 cycles (Cortex-M0+ mix) at the Pico's 133 MHz
    assert (row["estimated_cycles"], row["estimated_ms"]) == (11_600, round(11_600 / 133e3, 4))
    assert table["rows"][3]["estimated_ms"] == round(300_000 * 1.6 / 64e3, 4)  # M4F, 64 MHz
    assert (row["cpi"], row["instruction_mix"]) == (1.45, None)  # no counts per class


def test_counted_mix_gives_the_cpi_of_a_row() -> None:
    """A stage with the plugin's counts per class (M0+: load/store and taken branch 2 cycles,
    the rest 1) is estimated from them, not from the assumed mix."""
    stage = _stage("native_int8", "cortex-m0plus", 80_000, 3_000)
    mix = {"alu": 6_000, "mul": 1_000, "load_store": 1_000, "branch_taken": 500}
    mix |= {"branch_not_taken": 500, "fpu": 0}
    stage.memory.update({f"instructions_{name}": n for name, n in mix.items()})
    row = deployment_table([stage], allow_skip=False)["rows"][0]
    cycles = 6_000 + 1_000 + 2 * 1_000 + 2 * 500 + 500  # 8,000 instructions
    assert (row["estimated_cycles"], row["cpi"], row["instruction_mix"]) == (
        cycles,
        round(cycles / 8_000, 3),
        mix,
    )


def test_a_model_that_does_not_fit_its_board_is_a_stage_failure() -> None:
    assert fit_failure(_stages()[0].memory) is None
    assert fit_failure({"flash_bytes": 1}) is None  # no verdict: nothing to fail
    message = fit_failure(_stages()[3].memory)
    assert message == (
        "does not fit the board: flash 3,000,000 of 2,097,152 B, RAM 9,000 of 270,336 B "
        "(model + runtime, RAM incl. stack)"
    )
    # The runner's advice joins the failure line, which is what the console summary shows.
    advice = "artefact 'a' does NOT fit Pico: flash 3,000,000 of 2,097,152 B: use the int8w mode"
    with_advice = fit_failure(_stages()[3].memory, ["stack_bytes=400", advice])
    assert with_advice == f"{message}; use the int8w mode"


def test_report_shows_the_table_recommendation_and_error_vs_flash(tmp_path: Path) -> None:
    stages = _stages()
    report = Report(
        "toy",
        str(tmp_path),
        "builtin:toy",
        6,
        False,
        stages,
        {"python": "3"},
        deployment=deployment_table(stages, allow_skip=False),
    )
    json_path, html_path = write_reports(report, tmp_path)
    saved = json.loads(json_path.read_text())
    assert saved["deployment"]["recommendation"]["cortex-m0plus"] == "native_int8"
    html = html_path.read_text()
    assert html.index('id="deployment"') < html.index("<h2>Stages</h2>")  # at the top
    assert html.count("<tr class=") >= 4 and "<strong>native_int8</strong>" in html
    assert "nothing fits and passes" in html and "3,000,000" in html
    assert "est. ms at board clock" in html and "<td>0.0872</td>" in html  # 11,600 cyc @ 133 MHz
    assert "Error against flash (on-target stages)" in html


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu"]
    command += ["--enable-logging=stderr", "--v=0", *args, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def _console(log: str) -> list[str]:
    return [line for line in log.splitlines() if ":CONSOLE" in line]


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (bash scripts/setup.sh --dev)")
def test_report_page_loads_in_headless_chromium(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The real browser parses the table and the plots without a console message; the
    screenshot stays in pytest's kept temporary directory (report-page*/report.png)."""
    out = tmp_path_factory.mktemp("report-page")
    stages = _stages()
    report = Report(
        "toy",
        str(out),
        "builtin:toy",
        6,
        False,
        stages,
        {"python": "3"},
        deployment=deployment_table(stages, allow_skip=False),
    )
    _, html_path = write_reports(report, out)
    dom = _chromium(html_path, "--dump-dom")
    assert not _console(dom.stderr), _console(dom.stderr)
    assert 'id="deployment-table"' in dom.stdout and "native_int8" in dom.stdout
    assert dom.stdout.count('src="data:image/png;base64,') >= 2  # error per stage, vs flash
    shot = out / "report.png"
    _chromium(html_path, f"--screenshot={shot}", "--window-size=1280,1600")
    assert shot.stat().st_size > 20_000
    # The console check is not vacuous: a page that logs is caught.
    noisy = out / "noisy.html"
    noisy.write_text("<html><body><script>console.error('broken')</script></body></html>")
    assert _console(_chromium(noisy, "--dump-dom").stderr)
