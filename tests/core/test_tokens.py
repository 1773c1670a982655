"""Stream tokens: bound to user, session, message and expiry; forged or damaged ones are refused."""

from __future__ import annotations

import pytest

from assistant_stream.core.errors import NotAuthenticated
from assistant_stream.core.tokens import StreamTokens


def test_round_trip_binds_all_fields() -> None:
    tokens = StreamTokens("secret-a")
    token, expires = tokens.mint("alice", 3, 7, ttl=60, now=1000)
    grant = tokens.verify(token, now=1030)
    assert (grant.user_id, grant.session_id, grant.message_id, grant.expires_at) == ("alice", 3, 7, expires)
    assert "secret-a" not in token


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature changed
    lambda t: "e30" + t[t.index("."):],  # payload swapped
    lambda t: t.replace(".", ""),
    lambda t: "",
    lambda t: "a.b.c",
    lambda t: "x" * 5000,
    lambda t: "!!!.???",
])
def test_damaged_tokens_are_refused(mangle) -> None:
    tokens = StreamTokens("secret-a")
    token, _ = tokens.mint("alice", 3, 7, now=1000)
    with pytest.raises(NotAuthenticated):
        tokens.verify(mangle(token), now=1001)


def test_expired_and_foreign_tokens_are_refused() -> None:
    token, _ = StreamTokens("secret-a").mint("alice", 3, 7, ttl=10, now=1000)
    with pytest.raises(NotAuthenticated):
        StreamTokens("secret-a").verify(token, now=1011)
    with pytest.raises(NotAuthenticated):
        StreamTokens("secret-b").verify(token, now=1001)
