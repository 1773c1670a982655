"""The container entrypoint: under HaRP it writes the frp client's config and serves on the unix socket."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
from pathlib import Path

import httpx

from tests.support.appserver import APP_SECRET

ROOT = Path(__file__).resolve().parents[2]


async def test_harp_start_writes_frpc_config_and_serves_on_the_socket(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "frpc-args"
    # A stand-in frpc that records how it was started (the real one needs a HaRP server to talk to).
    (bin_dir / "frpc").write_text(f'#!/bin/sh\necho "$@" > {record}\nsleep 60\n')
    (bin_dir / "frpc").chmod(0o755)
    venv_bin = ROOT / ".venv" / "bin"
    sock = tmp_path / "exapp.sock"
    env = {**os.environ, "PATH": f"{bin_dir}:{venv_bin}:{os.environ['PATH']}", "HP_SHARED_KEY": "harp-key-123",
           "HP_FRP_ADDRESS": "harp.example", "HP_FRP_PORT": "8782", "HP_EXAPP_SOCK": str(sock),
           "APP_ID": "assistant_stream", "APP_SECRET": APP_SECRET, "APP_VERSION": "1.0.0", "APP_PORT": "23000",
           "APP_PERSISTENT_STORAGE": str(tmp_path / "data"), "NEXTCLOUD_URL": "http://127.0.0.1:9"}
    (tmp_path / "data").mkdir()
    proc = await asyncio.create_subprocess_exec(str(ROOT / "ex_app" / "start.sh"), env=env, cwd=ROOT,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                                                start_new_session=True)
    try:
        transport = httpx.AsyncHTTPTransport(uds=str(sock))
        async with httpx.AsyncClient(transport=transport, base_url="http://exapp") as client:
            for _ in range(300):
                if sock.exists():
                    try:
                        if (await client.get("/heartbeat")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                await asyncio.sleep(0.05)
            else:
                raise AssertionError((await proc.stderr.read()).decode()[-2000:])
        conf = tmp_path / "data" / "frpc.toml"
        text = conf.read_text()
        assert 'serverAddr = "harp.example"' in text and "serverPort = 8782" in text
        assert 'metadatas.token = "harp-key-123"' in text and f'unixPath = "{sock}"' in text
        assert "remotePort = 23000" in text and "transport.tls.enable = false" in text
        assert stat.S_IMODE(conf.stat().st_mode) == 0o600  # it holds the shared key
        assert record.read_text().strip() == f"-c {conf}"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()


async def test_harp_without_frpc_fails_loudly(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HP_SHARED_KEY": "k", "APP_PERSISTENT_STORAGE": str(tmp_path)}
    proc = await asyncio.create_subprocess_exec(str(ROOT / "ex_app" / "start.sh"), env=env,
                                                stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    assert proc.returncode == 1 and b"frpc is missing" in err
