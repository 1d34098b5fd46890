"""The per-burner answer has one declared shape (``Answer``), and an Outcome fits it."""

from __future__ import annotations

from dataclasses import fields

from gasstove.control import Outcome
from gasstove.domain.answers import Answer


def test_an_outcome_as_json_is_an_answer() -> None:
    outcome = Outcome("front", "shut_off", True, "resting", "shut off", cut_ms=12, restored=True)
    answer = outcome.as_json()
    assert set(answer) == {f.name for f in fields(Outcome)} <= set(Answer.__annotations__)
    assert Answer.__required_keys__ <= set(answer)
    assert answer["relay"] == "resting" and answer["cut_ms"] == 12
