"""`python -m assistant_stream`: serve the ExApp where AppAPI expects it (TCP, or HaRP's unix socket)."""

from __future__ import annotations

import logging
import logging.config
import math
import os
import sys
from pathlib import Path
from urllib.parse import unquote_plus

import uvicorn

from .core.env import AppEnv
from .web.protocol import BoundedHttpToolsProtocol


def redact_query(text: str) -> str:
    """``text`` (a path with its query) with the value of every parameter named ``token`` replaced, by the
    decoded name as the app reads it (``tok%65n=`` is ``token=``)."""
    path, sep, query = text.partition("?")
    if not sep:
        return text
    parts = query.split("&")
    for i, part in enumerate(parts):
        name, eq, value = part.partition("=")
        if eq and value and unquote_plus(name).strip().lower() == "token":
            parts[i] = f"{name}=***"
    return path + sep + "&".join(parts)


class RedactTokens(logging.Filter):
    """Access log lines carry query strings: stream tokens in them are replaced before they are written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(redact_query(a) if isinstance(a, str) and "?" in a else a for a in record.args)
        return True


def log_config(level: str) -> dict:
    """Logging for this process and each worker (uvicorn applies it in every worker it starts)."""
    return {"version": 1, "disable_existing_loggers": False,
            "filters": {"tokens": {"()": "assistant_stream.__main__.RedactTokens"}},
            "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
            "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                    "formatter": "plain"}},
            "root": {"level": level, "handlers": ["stderr"]},
            # httpx logs full URLs at INFO; access log lines carry query strings (stream tokens).
            "loggers": {"uvicorn.access": {"filters": ["tokens"]}, "httpx": {"level": "WARNING"}}}


def container_cpus(cgroup: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """CPUs this container may use: its cgroup quota (rounded up) when it has one, else the CPUs it sees."""
    try:
        quota, period = cgroup.read_text().split()[:2]
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(1, len(os.sched_getaffinity(0)))


def worker_count(env: AppEnv) -> int:
    """WORKERS, by default the container's CPUs with PostgreSQL and Redis, else 1; exits when they are missing."""
    shared = env.redis_url is not None and env.database_url is not None
    workers = max(1, env.workers if env.workers is not None else (container_cpus() if shared else 1))
    if workers > 1 and env.database_url is None:
        sys.exit(f"WORKERS={workers}: several processes cannot share the SQLite database. Set DATABASE_URL "
                 "(PostgreSQL) and REDIS_URL to run several, or WORKERS=1 (docs/deployment.md).")
    if workers > 1 and env.redis_url is None:
        sys.exit(f"WORKERS={workers} needs REDIS_URL: the processes share answers in progress, per-user limits "
                 "and stop requests through Redis. Set it, or WORKERS=1 (docs/deployment.md).")
    return workers


def main() -> None:
    env = AppEnv.from_environ()
    config = log_config(os.environ.get("LOG_LEVEL", "INFO").upper())
    logging.config.dictConfig(config)
    workers = worker_count(env)
    if env.local_mode_refused:
        logging.getLogger(__name__).warning(
            "LOCAL_MODE ignored: NEXTCLOUD_URL is set, so every request must come through Nextcloud")
    if env.local_mode:
        if env.app_host not in ("127.0.0.1", "localhost", "::1"):
            sys.exit("LOCAL_MODE only listens on loopback: set APP_HOST=127.0.0.1")
        logging.getLogger(__name__).warning(
            "LOCAL MODE: single-user chat at http://%s:%d/ without Nextcloud (never use this in production)",
            env.app_host, env.app_port)
    # Open streams get 4 s to end, then generations 5 s (web/app.py): 9 s, inside Docker's default 10 s stop
    # timeout, after which a SIGKILL would leave only the last saved second of an answer.
    # http: request heads and bodies bounded in size and arrival time (web/protocol.py), which no uvicorn
    # option does.
    kwargs: dict = {"factory": True, "log_config": config, "timeout_graceful_shutdown": 4,
                    "lifespan": "on", "proxy_headers": False, "workers": workers, "http": BoundedHttpToolsProtocol}
    if env.under_harp:
        sock = os.environ.get("HP_EXAPP_SOCK", "/tmp/exapp.sock")  # noqa: S108 (HaRP/nc_py_api convention)
        uvicorn.run("assistant_stream.web.app:create_app", uds=sock, **kwargs)
    else:
        uvicorn.run("assistant_stream.web.app:create_app", host=env.app_host, port=env.app_port, **kwargs)


if __name__ == "__main__":
    main()
