"""tools/print_register.py: the occ commands name the Nextcloud the app is attached to; none in local mode."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def printed(tmp_path: Path, *args: str) -> str:
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t-for-the-test\n")
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "print_register.py"), "--secret-file", str(secret),
                          "--port", "23456", *args], capture_output=True, text=True, check=True, timeout=60)
    return out.stdout


def occ_lines(text: str) -> list[list[str]]:
    return [shlex.split(line.strip(), comments=True)[1:] for line in text.splitlines()
            if line.strip().startswith("occ ")]


def test_attached_daemon_command_uses_the_nextcloud_url(tmp_path: Path) -> None:
    text = printed(tmp_path, "--nextcloud-url", "https://cloud.example.com/")
    daemon, register, *configure = occ_lines(text)
    assert daemon == ["app_api:daemon:register", "manual_install", "Manual Install", "manual-install", "http",
                      "127.0.0.1", "https://cloud.example.com"]
    assert register[:4] == ["app_api:app:register", "assistant_stream", "manual_install", "--wait-finish"]
    info = json.loads(register[register.index("--json-info") + 1])
    assert info["port"] == 23456 and info["secret"] == "s3cr3t-for-the-test"
    assert [c[2] for c in configure] == ["streaming_api_url", "streaming_model", "streaming_api_key"]
    assert "localhost" not in text and "Local single-user" not in text


def test_local_mode_prints_no_register_commands(tmp_path: Path) -> None:
    text = printed(tmp_path)
    assert occ_lines(text) == []
    assert "http://127.0.0.1:23456/" in text and "NEXTCLOUD_URL=" in text
