"""`python -m assistant_stream` (__main__.py): access logs without stream tokens; local mode on loopback only."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from assistant_stream.__main__ import RedactTokens


def test_stream_tokens_are_redacted_from_access_log_lines() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1", "GET", "/chat/stream?sessionId=1&token=abc.def&x=1", "1.1", 200), None)
    assert RedactTokens().filter(record) is True
    assert record.getMessage() == '127.0.0.1 - "GET /chat/stream?sessionId=1&token=***&x=1 HTTP/1.1" 200'


async def test_local_mode_refuses_to_listen_beyond_loopback() -> None:
    env = {**os.environ, "LOCAL_MODE": "1", "APP_HOST": "0.0.0.0", "APP_SECRET": ""}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "assistant_stream", env=env,
                                                stderr=asyncio.subprocess.PIPE)
    _out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1 and b"LOCAL_MODE only listens on loopback" in err
