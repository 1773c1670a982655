"""Connections (core/connections.py): the seed's settings first, the admin's list checked, keys never echoed."""

from __future__ import annotations

import json
import logging

import pytest

from assistant_stream.core.connections import (
    SEED_ID,
    build_connections,
    check_entry,
    dump_connections,
    has_key_field,
    key_setting,
    lenient_ids,
    parse_connections,
    split_models,
)
from assistant_stream.core.limits import MAX_CONNECTIONS
from assistant_stream.core.secrets import Secret

OTHER = {"id": "lab", "name": "Lab", "url": "http://lab:8000/v1", "models": ["llama", "qwen", "llama"]}


def test_the_seed_comes_first_then_the_valid_entries_with_their_keys() -> None:
    built = build_connections(url="https://api.openai.com/v1", api_key=Secret("sk-seed"), model="gpt-4o",
                              extra_models="gpt-4o-mini, gpt-4o\n o3", raw=json.dumps([OTHER]),
                              keys={"lab": Secret("sk-lab")})
    seed, lab = built
    assert (seed.id, seed.seed, seed.models, seed.api_key) == (SEED_ID, True, ("gpt-4o", "gpt-4o-mini", "o3"),
                                                               Secret("sk-seed"))
    assert (lab.id, lab.name, lab.models, lab.api_key.reveal()) == ("lab", "Lab", ("llama", "qwen"), "sk-lab")
    assert lab.public() == {"id": "lab", "name": "Lab", "url": "http://lab:8000/v1", "models": ["llama", "qwen"],
                            "keySet": True, "seed": False}
    assert build_connections(url="", api_key=Secret(""), model="m", extra_models="", raw="", keys={}) == ()


@pytest.mark.parametrize(("entry", "problem"), [
    ({"id": "Bad Id", "url": "http://x/v1"}, "id must be"),
    ({"id": SEED_ID, "url": "http://x/v1"}, "not 'default'"),
    ({"id": "a", "url": "ftp://x"}, "url must start"),
    ({"id": "a", "url": "http://x/v1", "models": "gpt"}, "models must be a list"),
    ({"id": "a", "url": "http://x/v1", "models": [""]}, "models must be a list"),
    ({"id": "a", "url": "http://x/v1", "name": "n" * 101}, "name must be"),
    ("not an object", "JSON object"),
])
def test_each_entry_is_checked_and_the_problem_named_without_its_value(entry: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as info:
        check_entry(entry)
    assert "x/v1" not in str(info.value)


def test_the_list_as_a_whole() -> None:
    assert parse_connections("") == [] and parse_connections("  ") == []
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_connections("[{")
    with pytest.raises(ValueError, match=f"at most {MAX_CONNECTIONS}"):
        parse_connections(json.dumps([{**OTHER, "id": f"c{i}"} for i in range(MAX_CONNECTIONS + 1)]))
    with pytest.raises(ValueError, match="same id"):
        parse_connections(json.dumps([OTHER, OTHER]))
    assert parse_connections(dump_connections(parse_connections(json.dumps([OTHER])))) == parse_connections(
        json.dumps([OTHER]))


def test_a_broken_list_is_ignored_with_a_warning_that_shows_no_value(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    raw = json.dumps([{"id": "x", "url": "sk-pasted-here-by-mistake"}])
    assert build_connections(url="", api_key=Secret(""), model="m", extra_models="", raw=raw, keys={}) == ()
    assert "Ignoring the connections setting" in caplog.text and "sk-pasted" not in caplog.text


def test_a_key_inside_the_json_is_recognised_and_never_kept() -> None:
    raw = json.dumps([{**OTHER, "api_key": "sk-in-json"}])
    assert has_key_field(raw) and not has_key_field(json.dumps([OTHER])) and not has_key_field("{")
    assert "sk-in-json" not in dump_connections(parse_connections(raw))


def test_ids_and_key_settings_and_model_lists() -> None:
    assert lenient_ids(json.dumps([OTHER, {"id": "BAD"}, {"no": "id"}, "x"])) == ["lab"]
    assert lenient_ids("not json") == [] and lenient_ids('{"id": "a"}') == []
    assert key_setting("lab") == "connection_lab_api_key"
    assert split_models(" a, b\nc ,a,, " + "x" * 300) == ["a", "b", "c"]
