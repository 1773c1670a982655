"""A user's files on the real Nextcloud over WebDAV, as the Files app and the desktop client reach them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.nextcloud_real.plugin import RealStack

FILEID_PROPFIND = ('<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><oc:fileid/></d:prop>'
                   '</d:propfind>')


async def put_file(real_nc: RealStack, user: str, path: str, data: bytes) -> None:
    """Upload over WebDAV as ``user`` with an app password (what the Files app and the desktop client do)."""
    r = await real_nc.as_user(user).put(f"/remote.php/dav/files/{user}/{path.lstrip('/')}", content=data)
    assert r.status_code in (201, 204), f"WebDAV PUT {path}: {r.status_code} {r.text[:200]}"


async def file_id(real_nc: RealStack, user: str, path: str) -> int:
    """The file's id in Nextcloud (what Files links to as /f/<id>)."""
    r = await real_nc.as_user(user).request("PROPFIND", f"/remote.php/dav/files/{user}/{path.lstrip('/')}",
                                            content=FILEID_PROPFIND, headers={"Depth": "0"})
    assert r.status_code == 207, f"WebDAV PROPFIND {path}: {r.status_code} {r.text[:200]}"
    match = re.search(r"<oc:fileid>(\d+)</oc:fileid>", r.text)
    assert match, r.text[:300]
    return int(match.group(1))
