"""Presets (core/presets.py): options checked with clear limits, the shared list parsed and written back."""

from __future__ import annotations

import json
import logging

import pytest

from assistant_stream.core.limits import MAX_MAX_TOKENS, MAX_SYSTEM_PROMPT
from assistant_stream.core.presets import check_name, check_options, dump_presets, parse_presets, shared_presets

CONCISE = {"id": "concise", "name": "Concise", "system_prompt": "Be brief.", "temperature": 0.2, "max_tokens": 300,
           "connection": None, "model": None}


def test_options_are_checked() -> None:
    assert check_options({}) == {"system_prompt": None, "temperature": None, "max_tokens": None,
                                 "connection": None, "model": None}
    assert check_options({"temperature": 1, "max_tokens": 5})["temperature"] == 1.0
    for bad, problem in [({"temperature": 2.5}, "temperature"), ({"temperature": True}, "temperature"),
                         ({"max_tokens": 0}, "max tokens"), ({"max_tokens": MAX_MAX_TOKENS + 1}, "max tokens"),
                         ({"max_tokens": 1.5}, "max tokens"), ({"system_prompt": "x" * (MAX_SYSTEM_PROMPT + 1)},
                                                               "system prompt"),
                         ({"model": "gpt"}, "needs its connection"), ({"connection": "a", "model": " "}, "model")]:
        with pytest.raises(ValueError, match=problem):
            check_options(bad)
    assert check_name("  Mine ") == "Mine"
    with pytest.raises(ValueError, match="name"):
        check_name("")


def test_the_shared_list_round_trips_and_a_broken_one_is_ignored(caplog: pytest.LogCaptureFixture) -> None:
    entries = parse_presets(json.dumps([CONCISE]))
    assert entries == [CONCISE] and parse_presets(dump_presets(entries)) == entries
    for raw, problem in [("[", "not valid JSON"), (json.dumps([CONCISE, CONCISE]), "same id"),
                         (json.dumps([{**CONCISE, "id": "Bad id"}]), "preset id"),
                         (json.dumps([{**CONCISE, "temperature": 9}]), "preset concise: the temperature")]:
        with pytest.raises(ValueError, match=problem):
            parse_presets(raw)
    caplog.set_level(logging.WARNING)
    assert shared_presets("[") == [] and "Ignoring the presets setting" in caplog.text
