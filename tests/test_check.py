"""The configuration check command shows every setting and its source, never the key."""

from __future__ import annotations

import asyncio
import os
import sys

from tests.support.scripted_provider import ScriptedProvider, openai_stream

KEY = "sk-check-7d41-never-print-me"


async def run_check(*args: str, **env: str) -> tuple[int, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("STREAMING_", "NEXTCLOUD_"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "assistant_stream.check", *args, env={**environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


async def test_check_lists_sources_and_hides_the_key(scripted_provider: ScriptedProvider) -> None:
    scripted_provider.always(openai_stream(["hi"]))
    code, out = await run_check("--test", STREAMING_API_URL=scripted_provider.base_url, STREAMING_API_KEY=KEY,
                                STREAMING_MODEL="test-model", LOCAL_MODE="1")
    assert KEY not in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "set" in lines["streaming_api_key"] and "(env)" in lines["streaming_api_key"]
    assert "test-model" in lines["streaming_model"] and "(default)" in lines["max_tokens"]
    assert "engine:   stream" in out and "delivery: poll" in out
    assert code == 0, out


async def test_check_without_provider_fails_clearly() -> None:
    code, out = await run_check("--test", LOCAL_MODE="1")
    assert code == 1 and "streaming_api_url is not set" in out and "unset" in out
