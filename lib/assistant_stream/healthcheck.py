"""`python -m assistant_stream.healthcheck`: exit 0 when /heartbeat answers (TCP, or HaRP's unix socket)."""

from __future__ import annotations

import http.client
import os
import socket
import sys


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=4)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(4)
        self.sock.connect(self._path)


def main() -> int:
    if os.environ.get("HP_SHARED_KEY"):
        sock = os.environ.get("HP_EXAPP_SOCK", "/tmp/exapp.sock")  # noqa: S108 (HaRP/nc_py_api convention)
        conn: http.client.HTTPConnection = _UnixConnection(sock)
    else:
        host = os.environ.get("APP_HOST", "127.0.0.1")
        conn = http.client.HTTPConnection("127.0.0.1" if host in ("0.0.0.0", "") else host,
                                          int(os.environ.get("APP_PORT", "23000")), timeout=4)
    try:
        conn.request("GET", "/heartbeat")
        return 0 if conn.getresponse().status == 200 else 1
    except OSError:
        return 1
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
