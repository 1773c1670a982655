"""Short-lived stream tokens: let a browser read one answer's stream at an admin-exposed URL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from .errors import InvalidToken
from .limits import MAX_TOKEN, TOKEN_TTL


@dataclass(frozen=True, slots=True)
class StreamGrant:
    user_id: str
    session_id: int
    message_id: int
    expires_at: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StreamTokens:
    def __init__(self, app_secret: str) -> None:
        # A key of its own, derived from APP_SECRET: a token never reveals or doubles as the secret.
        self._key = hmac.new(app_secret.encode(), b"assistant_stream/stream-token/v1", hashlib.sha256).digest()

    def mint(self, user_id: str, session_id: int, message_id: int, *, ttl: int = TOKEN_TTL,
             now: float | None = None) -> tuple[str, int]:
        expires = int((time.time() if now is None else now) + ttl)
        payload = json.dumps({"u": user_id, "s": session_id, "m": message_id, "e": expires},
                             separators=(",", ":")).encode()
        sig = hmac.new(self._key, payload, hashlib.sha256).digest()
        return f"{_b64(payload)}.{_b64(sig)}", expires

    def verify(self, token: str, *, now: float | None = None) -> StreamGrant:
        """The grant a valid token carries; NotAuthenticated for anything forged, damaged or expired."""
        bad = InvalidToken()
        if len(token) > MAX_TOKEN or token.count(".") != 1:
            raise bad
        body, sig = token.split(".")
        try:
            payload = _unb64(body)
            given = _unb64(sig)
        except (ValueError, TypeError):
            raise bad from None
        expected = hmac.new(self._key, payload, hashlib.sha256).digest()
        if not hmac.compare_digest(given, expected):
            raise bad
        try:
            data = json.loads(payload)
            grant = StreamGrant(str(data["u"]), int(data["s"]), int(data["m"]), int(data["e"]))
        except (ValueError, KeyError, TypeError):
            raise bad from None
        if grant.expires_at < (time.time() if now is None else now):
            raise bad
        return grant
