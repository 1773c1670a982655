"""Real third-party OpenAI-compatible servers (LiteLLM proxy, llama.cpp llama-server) as fixtures (tests/interop).

Run with `make interop` (tests/interop/run.sh installs them first). A missing server fails loudly:
these tests never skip.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port
from tests.support.scripted_provider import ScriptedProvider

ROOT = Path(__file__).resolve().parents[2]
INTEROP_VENV = ROOT / ".venv-interop"
LITELLM = INTEROP_VENV / "bin" / "litellm"
LLAMA_SERVER = Path(os.environ.get("LLAMA_SERVER", INTEROP_VENV / "llama" / "bin" / "llama-server"))
MASTER_KEY = "sk-interop-master-5e1d0c"
MOCK_TEXT = "Hello from the LiteLLM mock: café € 😀, on\nthree\nlines."


def _require(path: Path, what: str) -> None:
    if not path.exists():
        pytest.fail(f"{what} not found at {path}: run `make interop` (tests/interop/run.sh) to install it")


async def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(trust_env=False) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"{url} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if (await client.get(url, timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    pytest.fail(f"{url} not ready after {timeout} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@dataclass
class Server:
    base_url: str
    api_key: str
    relay: ScriptedProvider | None = None


@pytest.fixture(scope="session")
async def relay_upstream() -> AsyncIterator[ScriptedProvider]:
    """A scripted provider LiteLLM relays to (model `relay`)."""
    async with ScriptedProvider() as server:
        yield server


@pytest.fixture(scope="session")
async def litellm_proxy(tmp_path_factory: pytest.TempPathFactory,
                        relay_upstream: ScriptedProvider) -> AsyncIterator[Server]:
    """LiteLLM proxy 1.106.2 from .venv-interop with a `mock` model (mock_response) and a `relay` model."""
    _require(LITELLM, "LiteLLM proxy")
    work = tmp_path_factory.mktemp("litellm")
    config = {"model_list": [
        {"model_name": "mock", "litellm_params": {"model": "openai/mock", "api_key": "unused",
                                                  "mock_response": MOCK_TEXT}},
        {"model_name": "relay", "litellm_params": {"model": "openai/upstream-model", "api_key": "upstream-key",
                                                   "api_base": relay_upstream.base_url}},
    ]}
    (work / "config.yaml").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
    port = free_port()
    env = {**os.environ, "LITELLM_MASTER_KEY": MASTER_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
           "LITELLM_TELEMETRY": "False", "NO_PROXY": "127.0.0.1,localhost"}
    log = work / "litellm.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(LITELLM), "--config", str(work / "config.yaml"), "--host", "127.0.0.1",
                                 "--port", str(port)], cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        await _wait_ready(f"http://127.0.0.1:{port}/health/liveliness", proc, log, 180)
        yield Server(f"http://127.0.0.1:{port}/v1", MASTER_KEY, relay_upstream)
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A tiny random-weight llama GGUF written by make_tiny_gguf.py with the interop venv's `gguf`."""
    python = INTEROP_VENV / "bin" / "python"
    _require(python, "The interop venv")
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    subprocess.run([str(python), str(ROOT / "tests" / "interop" / "make_tiny_gguf.py"), str(path)], check=True)
    yield path


@pytest.fixture(scope="session")
async def llama_server(tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path) -> AsyncIterator[Server]:
    """llama.cpp's llama-server (built by build_llama.sh) serving the tiny model, 2 parallel slots."""
    _require(LLAMA_SERVER, "llama-server (tests/interop/build_llama.sh builds it)")
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "llama-server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(LLAMA_SERVER), "-m", str(tiny_gguf), "--host", "127.0.0.1", "--port",
                                 str(port), "-c", "1024", "--parallel", "2", "-t", "2", "--seed", "1"],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        await _wait_ready(f"http://127.0.0.1:{port}/health", proc, log, 60)
        yield Server(f"http://127.0.0.1:{port}/v1", "not-needed")
    finally:
        _stop(proc)
