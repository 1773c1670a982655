"""The EventLog protocol names every method the chat layer uses, and both implementations provide them all
(their behaviour is the shared contract in tests/support/eventlog_contract.py)."""

from __future__ import annotations

import inspect

from assistant_stream.chat import eventlog
from assistant_stream.store.eventlog_memory import MemoryEventLog
from assistant_stream.store.eventlog_redis import RedisEventLog


def test_both_event_logs_implement_the_protocol_with_the_same_kinds_of_methods() -> None:
    methods = [n for n, v in vars(eventlog.EventLog).items() if inspect.isfunction(v) and not n.startswith("_")]
    assert {"append", "read", "wait", "seal", "owns"} <= set(methods)
    for impl in (MemoryEventLog, RedisEventLog):
        for name in methods:
            ours = getattr(eventlog.EventLog, name)
            theirs = getattr(impl, name)
            assert inspect.iscoroutinefunction(theirs) == inspect.iscoroutinefunction(ours), (impl, name)
            assert list(inspect.signature(theirs).parameters)[:3] == list(inspect.signature(ours).parameters)[:3]


def test_terminal_kinds_agree() -> None:
    from assistant_stream.store import eventlog_memory

    assert eventlog.TERMINAL_KINDS == eventlog_memory.TERMINAL_KINDS == {"done", "error"}
