"""Each name list has one owner (edge_rnn.choices); the modules that need a table per name
(TFLM project layouts, TFLM refusal reasons) cover exactly those names."""

from __future__ import annotations

from edge_rnn import choices


def test_tables_keyed_by_names_cover_exactly_the_names() -> None:
    from edge_rnn.runtimes.tflm import NOT_RUNNABLE
    from edge_rnn.tflm.project import ECOSYSTEMS

    assert tuple(ECOSYSTEMS) == choices.TFLM_ECOSYSTEMS
    assert set(NOT_RUNNABLE) | set(choices.TFLM_QUANTIZATIONS) == set(choices.TFLITE_QUANTIZATIONS)
    assert not set(NOT_RUNNABLE) & set(choices.TFLM_QUANTIZATIONS)
