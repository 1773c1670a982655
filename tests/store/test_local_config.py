"""The settings file of local mode (store/local_config.py): private to its owner, written whole, read leniently."""

from __future__ import annotations

import stat
from pathlib import Path

from assistant_stream.store.local_config import FILE, LocalConfig


async def test_values_are_kept_in_a_file_only_its_owner_reads(tmp_path: Path) -> None:
    config = LocalConfig(tmp_path)
    assert await config.fetch(["connections"]) == {"connections": None}
    await config.store("connections", "[]", sensitive=False)
    await config.store("connection_lab_api_key", "sk-local", sensitive=True)
    assert await LocalConfig(tmp_path).fetch(["connections", "connection_lab_api_key", "x"]) == {
        "connections": "[]", "connection_lab_api_key": "sk-local", "x": None}
    assert stat.S_IMODE((tmp_path / FILE).stat().st_mode) == 0o600
    assert not list(tmp_path.glob("*.tmp"))


async def test_a_broken_file_reads_as_no_settings(tmp_path: Path) -> None:
    (tmp_path / FILE).write_text("{not json", encoding="utf-8")
    assert await LocalConfig(tmp_path).fetch(["a"]) == {"a": None}
    (tmp_path / FILE).write_text('["a list"]', encoding="utf-8")
    assert await LocalConfig(tmp_path).fetch(["a"]) == {"a": None}
    Path(tmp_path / FILE).write_text('{"a": 1, "b": "two"}', encoding="utf-8")
    assert await LocalConfig(tmp_path).fetch(["a", "b"]) == {"a": None, "b": "two"}
