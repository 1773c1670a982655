"""The last defence for secrets (core/secrets.py): Secret never shows itself, redact removes keys from text."""

from __future__ import annotations

import json

from assistant_stream.core.secrets import Secret, redact

KEY = "sk-abcdefghijklmnop-secret"


def test_a_secret_never_shows_its_value() -> None:
    secret = Secret(KEY)
    for shown in (repr(secret), str(secret), f"{secret}", json.dumps({"k": str(secret)})):
        assert KEY not in shown
    assert secret.reveal() == KEY and bool(secret) and not Secret("")
    assert secret == Secret(KEY) and secret != Secret("other")


def test_redact_removes_the_key_and_anything_that_looks_like_one() -> None:
    text = f"upstream said: bad key {KEY}; Authorization: Bearer tok-123; api_key=zzz; sk-othersecret99"
    cleaned = redact(text, KEY)
    assert KEY not in cleaned and "tok-123" not in cleaned and "zzz" not in cleaned and "othersecret99" not in cleaned
    assert cleaned.startswith("upstream said: bad key [redacted]")
    assert redact("no key here", "not-needed") == "no key here"
