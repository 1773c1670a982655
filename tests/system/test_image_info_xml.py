"""tools/image_info_xml.py: info.xml for an admin's own image, otherwise unchanged."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from assistant_stream import __version__

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "image_info_xml.py"
INFO_XML = ROOT / "appinfo" / "info.xml"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=30,
                          check=False)


def docker_install(xml: str) -> tuple[str | None, ...]:
    root = ET.fromstring(xml)  # noqa: S314 - our own file
    return tuple(root.findtext(f"external-app/docker-install/{e}") for e in ("registry", "image", "image-tag"))


@pytest.mark.parametrize(("image", "expected"), [
    ("registry.example.com:5000/team/assistant_stream:1.2.3", ("registry.example.com:5000", "team/assistant_stream",
                                                               "1.2.3")),
    ("localhost/assistant_stream:1.0.0", ("localhost", "assistant_stream", "1.0.0")),
    ("ghcr.io/acme/assistant_stream", ("ghcr.io", "acme/assistant_stream", __version__)),
    ("acme/assistant_stream:dev", ("docker.io", "acme/assistant_stream", "dev")),
])
def test_points_docker_install_at_the_image(image: str, expected: tuple[str, str, str]) -> None:
    done = run(image)
    assert done.returncode == 0, done.stderr
    assert docker_install(done.stdout) == expected
    # Everything else (routes, variables, comments) is the file as it is.
    original = INFO_XML.read_text().splitlines()
    changed = done.stdout.splitlines()
    assert len(changed) == len(original)
    assert 1 <= sum(a != b for a, b in zip(original, changed, strict=True)) <= 3


@pytest.mark.parametrize("image", ["", "bad image", "x@sha256:abc", "host/<x>:1", "name:"])
def test_refuses_what_is_not_an_image_reference(image: str) -> None:
    done = run(image)
    assert done.returncode != 0 and "not an image reference" in done.stderr and not done.stdout
