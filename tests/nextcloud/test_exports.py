"""Saving an export (nextcloud/exports.py): a free name next to the ones taken, never over an existing file.

The WebDAV writes themselves, as the user, run against the real Nextcloud in
tests/nextcloud_real/test_versions_real.py.
"""

from __future__ import annotations

import itertools

from assistant_stream.nextcloud.exports import MAX_NAME_TRIES, candidates, numeric_id


def test_names_to_try_in_order_and_bounded() -> None:
    first = list(itertools.islice(candidates("Chat exports", "Trip 2026-01-01 10-00.md"), 3))
    assert first == ["/Chat exports/Trip 2026-01-01 10-00.md", "/Chat exports/Trip 2026-01-01 10-00 (2).md",
                     "/Chat exports/Trip 2026-01-01 10-00 (3).md"]
    assert len(list(candidates("F", "x.json"))) == MAX_NAME_TRIES


def test_the_link_id_comes_from_webdavs_file_id() -> None:
    assert numeric_id("00000123ocabcdef1234") == 123
    assert numeric_id("1234567890ocxyz") == 1234567890
    assert numeric_id("") is None and numeric_id(None) is None and numeric_id("ocabc") is None
