"""Callers (core/caller.py): who a request acts for, read from the scope, never from strings."""

from __future__ import annotations

import pytest

from assistant_stream.core.caller import SCOPE_KEY, Caller, CallerKind, caller_of
from assistant_stream.core.errors import NotAuthenticated


def test_a_user_is_required_from_appapi_or_local_callers_only() -> None:
    assert Caller(CallerKind.APPAPI, "alice").require_user() == "alice"
    assert Caller(CallerKind.LOCAL, "local").require_user() == "local"
    for caller in (Caller(CallerKind.APPAPI, ""), Caller(CallerKind.TOKEN, None), Caller(CallerKind.ANONYMOUS, None)):
        with pytest.raises(NotAuthenticated):
            caller.require_user()


def test_the_caller_is_read_from_the_scope() -> None:
    caller = Caller(CallerKind.TOKEN, None)
    assert caller_of({SCOPE_KEY: caller}) is caller
    with pytest.raises(NotAuthenticated):
        caller_of({})  # the auth middleware did not run: nobody
