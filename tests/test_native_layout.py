"""The int8 weight layout choice: `[native] layout`, `--layout`, and "auto" per target."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_rnn.config import parse_config
from edge_rnn.errors import EdgeRnnError
from edge_rnn.native.generate import choose_layout


@pytest.mark.parametrize(
    ("target", "layout"),
    [
        ("cortex-m0plus", "size"),  # no DSP: no SMLAD to feed from int16 pairs
        ("cortex-m3", "size"),
        ("esp32-c3", "size"),
        ("ch32v003", "size"),
        ("cortex-m4f", "speed"),
        ("cortex-m55", "size"),  # Helium: int8 widened by the load, as fast as int16
        ("rpi-armhf", "speed"),  # flash 0: no limit stated
        (None, "speed"),  # no target: the layout every existing config had
    ],
)
def test_auto_layout_per_target(target, layout):
    assert choose_layout("auto", target) == layout


def test_explicit_layout_wins_and_bad_names_fail():
    assert choose_layout("speed", "cortex-m0plus") == "speed"
    assert choose_layout("size", "cortex-m4f") == "size"
    with pytest.raises(EdgeRnnError, match="unknown int8 weight layout 'fast'"):
        choose_layout("fast")
    with pytest.raises(EdgeRnnError, match="unknown target 'nope'"):
        choose_layout("auto", "nope")


def test_config_native_layout(tmp_path: Path):
    default = parse_config({}, "edge-rnn.toml", tmp_path)
    assert (default.native.layout, default.native.target) == ("auto", "")
    config = parse_config({"native": {"layout": "size", "target": "cortex-m0plus"}}, "x", tmp_path)
    assert (config.native.layout, config.native.target) == ("size", "cortex-m0plus")
    with pytest.raises(EdgeRnnError, match="layout"):
        parse_config({"native": {"layout": "small"}}, "edge-rnn.toml", tmp_path)
    # a profile file of the user's is relative to the config, like every path in it
    config = parse_config({"native": {"target": "boards/mine.toml"}}, "x", tmp_path)
    assert config.native.target == str(tmp_path / "boards" / "mine.toml")
    with pytest.raises(EdgeRnnError, match="edge-rnn.toml: native.target: unknown value"):
        parse_config({"native": {"target": "cortex-m9"}}, "edge-rnn.toml", tmp_path)
