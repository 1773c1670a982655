"""The container image: the Dockerfile built with buildah and run as AppAPI's Docker daemon runs it.

Base images cannot be pulled here, so the build uses stand-ins (tools/standin_image.sh): Debian bookworm's
Python 3.11 for python:3.11-slim-bookworm, the same plus this machine's Node.js 20 for node:20-bookworm-slim,
and a shell script for the frp project's frpc. This proves the Dockerfile's steps (the frontend build
included), user, paths, entrypoint and health check, not the official base images nor the real frpc.
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.appserver import APP_SECRET, APP_VERSION, appapi_headers
from tests.support.buildah import Container, build, image_config, keep_as_cache, require_tools, standin, standin_frpc
from tests.support.chat import new_chat, read_stream, text_of
from tests.support.ports import free_port
from tests.support.scripted_provider import ScriptedProvider, openai_stream

pytestmark = pytest.mark.timeout(900)  # a cold first build on a new machine runs debootstrap

DATA = "/nc_app_assistant_stream_data"
UID = 10001
BUNDLE = "app/js/assistant_stream-main.js"


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("image")


@pytest.fixture(scope="module")
def standins(work: Path) -> dict[str, str]:
    require_tools()
    return {"PYTHON_IMAGE": standin("python"), "NODE_IMAGE": standin("node"), "FRPC_IMAGE": standin_frpc(work)}


@pytest.fixture(scope="module")
def image(work: Path, standins: dict[str, str]) -> Iterator[str]:
    tag = f"localhost/assistant_stream-test:{uuid.uuid4().hex[:12]}"
    build(tag, standins, work / "build.log")
    try:
        yield tag
    finally:
        keep_as_cache(tag)


def appapi_env(port: int, **extra: str) -> dict[str, str]:
    """What AppAPI's Docker deploy passes to the container (DockerActions::buildDeployEnvs)."""
    return {"AA_VERSION": "32.0.0", "APP_SECRET": APP_SECRET, "APP_ID": "assistant_stream",
            "APP_DISPLAY_NAME": "Assistant Stream", "APP_VERSION": APP_VERSION, "APP_HOST": "127.0.0.1",
            "APP_PORT": str(port), "APP_PERSISTENT_STORAGE": DATA, "NEXTCLOUD_URL": "http://127.0.0.1:9",
            "COMPUTE_DEVICE": "CPU", **extra}


def entrypoint(image: str) -> list[str]:
    config = image_config(image)
    return [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]


def healthcheck(image: str) -> list[str]:
    test = image_config(image)["Healthcheck"]["Test"]
    assert test[0] == "CMD", test
    return test[1:]


def named_volume(container: Container, host_dir: Path) -> Path:
    """A host folder prepared as Docker prepares a new named volume: owner and mode of the image's folder."""
    image_dir = (container.rootfs() / DATA.lstrip("/")).stat()
    host_dir.mkdir()
    os.chown(host_dir, image_dir.st_uid, image_dir.st_gid)
    host_dir.chmod(stat.S_IMODE(image_dir.st_mode))
    return host_dir


async def wait_until_serving(container: Container, client: httpx.AsyncClient) -> None:
    for _ in range(600):
        try:
            if (await client.get("/heartbeat")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert container.process is not None
        if container.process.poll() is not None:
            raise AssertionError(f"the container exited: {container.output()[-3000:]}")
        await asyncio.sleep(0.1)
    raise AssertionError(f"no heartbeat after 60 s: {container.output()[-3000:]}")


def listener(port: int) -> psutil.Process:
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return psutil.Process(conn.pid)
    raise AssertionError(f"nothing listens on {port}")


async def stop_like_docker(container: Container, port: int) -> str:
    """SIGTERM to the app (the container's main process once start.sh has exec'd it); Docker kills after 10 s."""
    os.kill(listener(port).pid, signal.SIGTERM)
    assert container.process is not None
    for _ in range(100):
        if container.process.poll() is not None:
            return container.output()
        await asyncio.sleep(0.1)
    raise AssertionError("the app did not stop within Docker's 10 s")


@pytest.fixture(scope="module")
async def served(image: str, work: Path) -> AsyncIterator[tuple[Container, int, Path]]:
    """A container of the image serving on a loopback port, its data on a named-volume stand-in."""
    tmp_path = work / "served"
    tmp_path.mkdir()
    container = Container(image)
    try:
        volume = named_volume(container, tmp_path / "volume")
        port = free_port()
        env = appapi_env(port)
        # The health check fails while nothing answers: it is no always-green check.
        assert (await asyncio.to_thread(container.run, healthcheck(image), env)).returncode == 1
        container.start(entrypoint(image), env, tmp_path / "container.log", {volume: DATA})
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10) as probe:
            await wait_until_serving(container, probe)
        yield container, port, volume
    finally:
        await asyncio.to_thread(container.remove)


def test_image_config(image: str) -> None:
    config = image_config(image)
    assert config["User"] == f"{UID}:{UID}"
    assert entrypoint(image) == ["/app/ex_app/start.sh"]
    assert healthcheck(image) == ["python", "-m", "assistant_stream.healthcheck"]
    assert "23000/tcp" in config["ExposedPorts"]
    assert f"APP_PERSISTENT_STORAGE={DATA}" in config["Env"]
    assert not any(e.startswith("LOCAL_MODE=") for e in config["Env"])


async def test_serves_as_the_unprivileged_user(image: str, served: tuple[Container, int, Path]) -> None:
    container, port, _ = served
    app = listener(port)
    assert app.uids().real == UID and app.uids().effective == UID
    # start.sh exec'd the app: Docker's SIGTERM reaches it, not a shell.
    assert app.cmdline()[-2:] == ["-m", "assistant_stream"] and "start.sh" not in " ".join(app.cmdline())
    # (Read from the image's files: buildah 1.28's `run` now and then loses a short command's output.)
    passwd = (container.rootfs() / "etc" / "passwd").read_text().splitlines()
    assert f"exapp:x:{UID}:{UID}::/app:/usr/sbin/nologin" in passwd
    check = await asyncio.to_thread(container.run, healthcheck(image), appapi_env(port))
    assert check.returncode == 0, check.stderr


async def test_serves_the_bundle_and_authenticates_appapi(served: tuple[Container, int, Path]) -> None:
    container, port, volume = served
    built = (container.rootfs() / BUNDLE).read_bytes()  # by the Dockerfile's Node stage
    assert len(built) > 100_000 and b"#assistant-stream-app" in built
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10) as c:
        bundle = await c.get("/js/assistant_stream-main.js", headers=appapi_headers("alice"))
        assert bundle.status_code == 200 and bundle.content == built
        assert "javascript" in bundle.headers["content-type"]
        assert (await c.get("/js/assistant_stream-main.css", headers=appapi_headers("alice"))).status_code == 200
        assert (await c.get("/chat/sessions")).status_code == 401
        assert (await c.get("/chat/sessions", headers=appapi_headers("alice", "wrong-secret"))).status_code == 401
        c.headers.update(appapi_headers("alice"))
        sid, _ = await new_chat(c, "Stored in the volume")
        assert [s["id"] for s in (await c.get("/chat/sessions")).json()] == [sid]
    db = volume / "assistant_stream.db"
    assert db.is_file() and db.stat().st_uid == UID


async def test_streams_from_a_provider_and_keeps_data_across_containers(
        image: str, tmp_path: Path, scripted_provider: ScriptedProvider) -> None:
    words = [f"w{i} " for i in range(20)]
    scripted_provider.always(openai_stream(words, delay=0.01))
    first = Container(image)
    second: Container | None = None
    try:
        volume = named_volume(first, tmp_path / "volume")
        port = free_port()
        env = appapi_env(port, STREAMING_API_URL=scripted_provider.chat_url, STREAMING_API_KEY="sk-container-test")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=15,
                                     headers=appapi_headers("alice")) as c:
            first.start(entrypoint(image), env, tmp_path / "first.log", {volume: DATA})
            await wait_until_serving(first, c)
            sid, mid = await new_chat(c, "Count")
            events = await read_stream(c, {"sessionId": sid, "messageId": mid})
            assert text_of(events) == "".join(words) and events[-1][1]["done"] is True
            assert scripted_provider.requests[0].headers["authorization"] == "Bearer sk-container-test"
            log = await stop_like_docker(first, port)
            assert "Application shutdown complete" in log
            assert "sk-container-test" not in log and APP_SECRET not in log
            await asyncio.to_thread(first.remove)
            # An update re-creates the container on the same volume: the conversation is still there.
            second = Container(image)
            second.start(entrypoint(image), env, tmp_path / "second.log", {volume: DATA})
            await wait_until_serving(second, c)
            messages = (await c.get("/chat/messages", params={"sessionId": sid})).json()
            assert [m["content"] for m in messages] == ["Count", "".join(words)]
    finally:
        await asyncio.to_thread(first.remove)
        if second is not None:
            await asyncio.to_thread(second.remove)


async def test_harp_entrypoint_starts_frpc_and_serves_on_the_socket(image: str, tmp_path: Path) -> None:
    container = Container(image)
    try:
        env = appapi_env(free_port(), HP_SHARED_KEY="harp-key-456", HP_FRP_ADDRESS="harp.example",
                         HP_FRP_PORT="8782")
        # The container's /tmp on a host folder: the host reaches the app's socket there (a socket in the
        # container's own file system answers only inside buildah's mount namespace).
        volumes = {named_volume(container, tmp_path / "volume"): DATA, tmp_path / "tmp": "/tmp"}
        (tmp_path / "tmp").mkdir(mode=0o1777)
        (tmp_path / "tmp").chmod(0o1777)
        container.start(entrypoint(image), env, tmp_path / "container.log", volumes)
        transport = httpx.AsyncHTTPTransport(uds=str(tmp_path / "tmp" / "exapp.sock"))
        async with httpx.AsyncClient(transport=transport, base_url="http://exapp", trust_env=False, timeout=10) as c:
            await wait_until_serving(container, c)
            r = await c.get("/chat/sessions", headers=appapi_headers("bob"))
            assert r.status_code == 200 and r.json() == []
        check = await asyncio.to_thread(container.run, healthcheck(image), env, 60, volumes)
        assert check.returncode == 0, check.stderr
        data = tmp_path / "volume"
        started = (data / "frpc-started").read_text().split("\n")
        assert started[0] == str(UID) and started[1] == f"-c {DATA}/frpc.toml"
        conf = data / "frpc.toml"
        assert stat.S_IMODE(conf.stat().st_mode) == 0o600 and conf.stat().st_uid == UID
        text = conf.read_text()
        assert 'serverAddr = "harp.example"' in text and 'metadatas.token = "harp-key-456"' in text
        assert 'unixPath = "/tmp/exapp.sock"' in text
    finally:
        await asyncio.to_thread(container.remove)
