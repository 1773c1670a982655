"""Which Nextcloud tarballs the real-Nextcloud tests run on: ``NEXTCLOUD_TARBALL``, else the shared folder."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "NEXTCLOUD_TARBALL"
# The shared folder lies beside the repository (developers' clones and CI's fresh clone alike); looking in
# every ancestor's "shared/nextcloud" also finds it from a clone nested one level deeper.
SHARED_PARTS = ("shared", "nextcloud")
REPO = Path(__file__).resolve().parents[3]
_VERSION = re.compile(r"nextcloud-(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class Tarball:
    path: Path
    version: str  # "32.0.2"

    @property
    def id(self) -> str:
        """The test id: "nc" and the major version ("nc32")."""
        return "nc" + self.version.split(".")[0]


def _version_of(path: Path) -> str | None:
    match = _VERSION.search(path.name)
    return ".".join(match.groups()) if match else None


def _split(value: str) -> list[str]:
    """``NEXTCLOUD_TARBALL`` holds one or more paths, separated by ``:`` or whitespace."""
    return [part for chunk in value.split() for part in chunk.split(os.pathsep) if part]


def default_folders(repo: Path = REPO) -> list[Path]:
    """``<ancestor>/shared/nextcloud`` for each ancestor of the repository, nearest first."""
    return [ancestor.joinpath(*SHARED_PARTS) for ancestor in repo.parents]


def find_tarballs(environ: dict[str, str] | None = None, repo: Path = REPO) -> tuple[list[Tarball], str]:
    """(tarballs sorted by version, a reason when there are none)."""
    env = os.environ if environ is None else environ
    given = env.get(ENV_VAR, "").strip()
    if given:
        candidates = [Path(p).expanduser() for p in _split(given)]
        missing = [str(p) for p in candidates if not p.is_file()]
        if missing:
            return [], f"{ENV_VAR} names files that do not exist: {', '.join(missing)}"
        where = f"{ENV_VAR}={given}"
    else:
        folder = next((f for f in default_folders(repo) if f.is_dir() and any(f.glob("*.tar.xz"))), None)
        if folder is None:
            return [], (f"no Nextcloud tarball: {ENV_VAR} is unset and no ../shared/nextcloud/*.tar.xz "
                        f"lies beside the repository")
        candidates = sorted(folder.glob("*.tar.xz"))
        where = str(folder)
    found: dict[Path, Tarball] = {}
    for path in candidates:
        version = _version_of(path)
        if version is None:
            return [], f"cannot tell the Nextcloud version from the file name {path.name} (from {where})"
        found.setdefault(path.resolve(), Tarball(path.resolve(), version))
    tarballs = sorted(found.values(), key=lambda t: tuple(int(x) for x in t.version.split(".")))
    ids = [t.id for t in tarballs]
    if len(set(ids)) != len(ids):
        return [], f"two tarballs of the same major version in {where}: {', '.join(t.path.name for t in tarballs)}"
    return tarballs, ""
