"""UsageMeter: what an ended answer (or title) counts: the provider's usage, else an estimate marked as one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ..core.budgets import day_of, timezone
from ..core.config_store import ConfigStore
from ..core.estimate import estimate_tokens
from ..store.usage import Accounting
from .budgets import BudgetGuard
from .generation import Generation

GROUPS_TIMEOUT = 3.0  # seconds the final save waits for a user's groups (cached by the budget check anyway)


def counted(gen: Generation) -> tuple[int, int, bool] | None:
    """(prompt, completion, estimated) tokens of an ended generation; None when nothing was used.

    An answer that failed before any output cost nothing (the provider refused it: bad key, unreachable,
    4xx); a stopped or cut-off one did cost its prompt and what was written.
    """
    usage = gen.usage
    if usage is not None and (usage.prompt_tokens or usage.completion_tokens or usage.total_tokens):
        prompt = usage.prompt_tokens or 0
        completion = usage.completion_tokens or max(0, (usage.total_tokens or 0) - prompt)
        return prompt, completion, False
    if gen.status == "error" and gen.chunks == 0 and not gen.reasoning_len:
        return None
    return gen.prompt_estimate, estimate_tokens(gen.text) + estimate_tokens(gen.reasoning), True


class UsageMeter:
    def __init__(self, config: ConfigStore, guard: BudgetGuard, *, clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self._guard = guard
        self._clock = clock

    async def entry(self, gen: Generation) -> Accounting | None:
        """The accounting of ``gen`` (its user's groups included), or None when it used nothing."""
        tokens = counted(gen)
        if tokens is None:
            return None
        settings = await self._config.get()
        try:
            groups = await asyncio.wait_for(self._guard.groups(gen.user_id), GROUPS_TIMEOUT)
        except TimeoutError:
            groups = ()
        return Accounting(gen.user_id, groups, gen.model or "unknown",
                          day_of(self._clock(), timezone(settings.budget_timezone)), *tokens)

    def counted(self, entry: Accounting) -> None:
        """The entry is in the database: the user's next budget check must see it."""
        self._guard.forget(entry.user_id)
