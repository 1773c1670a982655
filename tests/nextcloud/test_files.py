"""Reading a user's file (nextcloud/files.py): the path stays inside the user's own files.

The WebDAV read itself (size checked first, bounded download, another user's file refused) runs against the
real Nextcloud in tests/nextcloud_real/test_attachments.py.
"""

from __future__ import annotations

import pytest

from assistant_stream.core.errors import InvalidParameter, MissingParameter
from assistant_stream.nextcloud.files import clean_path


@pytest.mark.parametrize(("given", "clean"), [
    ("/Documents/report.pdf", "/Documents/report.pdf"),
    ("Documents//./report.pdf", "/Documents/report.pdf"),
    ("/Ünïcode name (1).odt", "/Ünïcode name (1).odt"),
])
def test_paths_are_normalised(given: str, clean: str) -> None:
    assert clean_path(given) == clean


@pytest.mark.parametrize("path", [
    "../bob/files/secret.txt", "/Documents/../../bob/files/x", "/..", "a\\..\\b", "a\x00b", "/", "x" * 5000,
])
def test_paths_that_could_leave_the_users_files_are_refused(path: str) -> None:
    with pytest.raises(InvalidParameter):
        clean_path(path)


@pytest.mark.parametrize("path", ["", "   ", None, 42])
def test_a_path_is_required(path: object) -> None:
    with pytest.raises(MissingParameter):
        clean_path(path)
