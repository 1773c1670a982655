"""Saving generations: progress about once a second, the final state (retried), and what an outage kept back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable

from ..core.error_render import retry_seconds
from ..core.errors import AppError, NotFound, StorageUnavailable
from ..core.events import Source
from ..store.values import Record
from .answer_store import AnswerStore
from .generation import Generation
from .titles import clean_title
from .usage import UsageMeter

log = logging.getLogger(__name__)


class AnswerSaver:
    """Writes generations to storage; keeps answers whose final save failed until the database is back."""

    def __init__(self, storage: AnswerStore, *, retry_backoff: float = 0.5, meter: UsageMeter | None = None) -> None:
        self._storage = storage
        self._meter = meter  # counts usage with the final save (None: not counted, as in some unit tests)
        self._retry_backoff = retry_backoff
        # Answers that ended while the database was unavailable, by message id, with the status and
        # error they really ended with: retry_unsaved() writes them once the database answers again.
        self._unsaved: dict[int, tuple[Generation, str, AppError | None]] = {}

    def unsaved(self, message_id: int) -> Generation | None:
        """The generation of an answer that ended but is not saved yet (its row still says generating)."""
        entry = self._unsaved.get(message_id)
        return entry[0] if entry else None

    async def save_final(self, gen: Generation, outcome: tuple[str, AppError | None] | None = None,
                         *, tries: int = 3) -> Record | None:
        """Store the answer with ``outcome`` (status, error), by default the generation's own."""
        usage = gen.total_usage
        status, error = outcome if outcome is not None else (gen.status, gen.error)
        assert gen.message_id is not None
        entry = await self._meter.entry(gen) if self._meter is not None else None
        tokens = (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) if usage else (None, None, None)
        if entry is not None and entry.estimated:
            tokens = (entry.prompt_tokens, entry.completion_tokens, entry.total)
        for attempt in range(tries):
            try:
                saved = await self._storage.finish_message(
                    gen.message_id, status=status, content=gen.text, reasoning=gen.reasoning,
                    finish_reason=gen.finish_reason, error=error.message if error else None,
                    error_code=error.code if error else None,
                    prompt_tokens=tokens[0], completion_tokens=tokens[1], total_tokens=tokens[2],
                    tokens_per_second=gen.tokens_per_second(), sources=sources_json(gen.sources),
                    thinking_ms=gen.thinking_ms(), retry_after=retry_after_of(error),
                    usage_estimated=bool(entry and entry.estimated), accounting=entry)
                if entry is not None and self._meter is not None:
                    self._meter.counted(entry)
                return saved
            except StorageUnavailable:
                if attempt == tries - 1:
                    raise
                await asyncio.sleep(self._retry_backoff * (attempt + 1))
        return None

    def keep_unsaved(self, gen: Generation) -> None:
        """The final save failed for lack of a database: write it later, as the answer really ended."""
        assert gen.message_id is not None
        self._unsaved[gen.message_id] = (gen, gen.status, gen.error)

    async def save_title(self, gen: Generation) -> None:
        entry = await self._meter.entry(gen) if self._meter is not None else None
        if entry is not None:
            try:
                await self._storage.add_usage(entry)
                self._meter.counted(entry)  # type: ignore[union-attr]
            except AppError as exc:  # a title's few tokens are not worth failing it for
                log.warning("Could not count the usage of %s: %s", gen.key, exc.message)
        title = clean_title(gen.text)
        if gen.status == "done" and title:
            with contextlib.suppress(NotFound):
                await self._storage.update_session_title(gen.user_id, gen.session_id, title, generated=True)

    async def save_progress(self, generations: Iterable[Generation]) -> None:
        """One round of checkpoints: every live answer with unsaved text, in one transaction."""
        batch = [g for g in generations if g.dirty and g.kind == "answer" and g.live and g.message_id is not None]
        if not batch:
            return
        for gen in batch:
            gen.dirty = False
        try:
            await self._storage.save_progress_many([(g.message_id, g.text, g.reasoning) for g in batch])  # type: ignore[misc]
        except AppError as exc:
            for gen in batch:
                gen.dirty = True  # try again next round; the final save is what matters
            log.warning("Could not save the progress of %d answers: %s", len(batch), exc.message)
        except Exception:
            for gen in batch:
                gen.dirty = True
            log.exception("Could not save the progress of %d answers", len(batch))

    async def retry_unsaved(self) -> None:
        """Write answers whose final save failed, as they really ended, once the database is back."""
        for message_id, (gen, status, error) in list(self._unsaved.items()):
            try:
                gen.final_message = await self.save_final(gen, (status, error), tries=1)
            except AppError:
                continue  # still unavailable; the outage itself was logged when the save first failed
            except Exception:
                log.exception("Could not save %s", gen.key)
                continue
            self._unsaved.pop(message_id, None)
            log.info("Saved %s now that the database answers again", gen.key)


def retry_after_of(error: AppError | None) -> int | None:
    """Whole seconds a rate limit asked to wait (the error card counts them down, also after a reload)."""
    return None if error is None or error.retry_after is None else retry_seconds(error.retry_after)


def sources_json(sources: tuple[Source, ...]) -> str | None:
    """The message's ``sources`` column: ``[{"label", "url", "fileId"}]`` (None leaves it as it is)."""
    if not sources:
        return None
    return json.dumps([{"label": s.label, "url": s.url, "fileId": s.file_id} for s in sources],
                      ensure_ascii=False, separators=(",", ":"))
