"""`python -m assistant_stream`: serve the ExApp where AppAPI expects it (TCP, or HaRP's unix socket)."""

from __future__ import annotations

import logging
import os
import re
import sys

import uvicorn

from .core.env import AppEnv

_TOKEN = re.compile(r"(token=)[^&\s\"]+")


class RedactTokens(logging.Filter):
    """Access log lines carry query strings: stream tokens in them are replaced before they are written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(_TOKEN.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        return True


def main() -> None:
    env = AppEnv.from_environ()
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("uvicorn.access").addFilter(RedactTokens())
    logging.getLogger("httpx").setLevel(logging.WARNING)  # httpx logs full URLs at INFO
    if env.local_mode:
        if env.app_host not in ("127.0.0.1", "localhost", "::1"):
            sys.exit("LOCAL_MODE only listens on loopback: set APP_HOST=127.0.0.1")
        logging.getLogger(__name__).warning(
            "LOCAL MODE: single-user chat at http://%s:%d/ without Nextcloud (never use this in production)",
            env.app_host, env.app_port)
    # Open streams get 4 s to end, then generations 5 s (web/app.py): 9 s, inside Docker's default 10 s stop
    # timeout, after which a SIGKILL would leave only the last saved second of an answer.
    kwargs: dict = {"factory": True, "log_config": None, "timeout_graceful_shutdown": 4,
                    "lifespan": "on", "proxy_headers": False}
    if env.under_harp:
        sock = os.environ.get("HP_EXAPP_SOCK", "/tmp/exapp.sock")  # noqa: S108 (HaRP/nc_py_api convention)
        uvicorn.run("assistant_stream.web.app:create_app", uds=sock, **kwargs)
    else:
        uvicorn.run("assistant_stream.web.app:create_app", host=env.app_host, port=env.app_port, **kwargs)


if __name__ == "__main__":
    main()
