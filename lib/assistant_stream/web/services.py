"""The services a request handler may use, built once per process (the composition root) and kept on app.state."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from ..chat.admin import AdminService
from ..chat.answer import dump_view, load_view
from ..chat.attachments import AttachmentService
from ..chat.audit import SettingsAudit
from ..chat.budgets import BudgetGuard
from ..chat.coordination import Coordinator
from ..chat.engines import DocumentsCheck, EngineSelector
from ..chat.eventlog import EventLog
from ..chat.manager import GenerationManager
from ..chat.service import ChatService
from ..core.config_store import ConfigStore
from ..core.env import AppEnv
from ..core.limits import EVENTLOG_RETENTION
from ..core.tokens import StreamTokens
from ..files.runner import Extractor
from ..nextcloud.server import NextcloudServer
from ..providers.taskprocessing import ContextChatEngine, TaskProcessingEngine
from ..providers.transport import ProviderClient
from ..store.coordination_memory import MemoryCoordinator
from ..store.coordination_redis import RedisCoordinator
from ..store.eventlog_memory import MemoryEventLog
from ..store.eventlog_redis import RedisEventLog
from ..store.redis_hub import RedisHub
from ..store.storage import Storage
from .client_config import republish_page_config

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Services:
    env: AppEnv
    config: ConfigStore
    chat: ChatService
    admin: AdminService  # usage, budgets, activity and the audit log (the admin routes; /chat/budget)
    tokens: StreamTokens
    nextcloud: NextcloudServer | None  # None in local mode without a Nextcloud
    # Owned here for start-up and shutdown (and for tests that inject faults); routes use ``chat``.
    storage: Storage
    generations: GenerationManager
    eventlog: EventLog
    provider: ProviderClient
    coordinator: Coordinator
    redis: RedisHub | None = None  # with REDIS_URL


async def shared_state(env: AppEnv, retention: float) -> tuple[RedisHub | None, EventLog, Coordinator]:
    """In memory for one process; on Redis (REDIS_URL) for several."""
    if env.redis_url is None:
        return None, MemoryEventLog(retention=retention), MemoryCoordinator()
    hub = RedisHub(env.redis_url, prefix=env.redis_prefix)
    await hub.start()
    eventlog = RedisEventLog(hub, retention=retention, dump=dump_view, load=load_view)
    coordinator = RedisCoordinator(hub)
    await coordinator.start()
    return hub, eventlog, coordinator


async def build_services(env: AppEnv, environ: Mapping[str, str] | None, nextcloud: NextcloudServer | None,
                         *, config_ttl: float, save_interval: float, shutdown_grace: float,
                         eventlog_retention: float = EVENTLOG_RETENTION) -> Services:
    if nextcloud is None and (env.nextcloud_configured or not env.local_mode):
        nextcloud = NextcloudServer(env)
    env.persistent_storage.mkdir(parents=True, exist_ok=True)
    storage = Storage.from_env(str(env.persistent_storage), env.database_url)
    await storage.migrate()
    redis, eventlog, coordinator = await shared_state(env, eventlog_retention)
    if not coordinator.shared:
        # One process: whatever a previous run left generating was cut off. With several, the others may be
        # generating them: the takeover sweep finds the abandoned ones instead (chat/takeover.py).
        interrupted = await storage.mark_interrupted()
        if interrupted:
            log.warning("%d answers were cut off by a restart; their saved text is kept as 'interrupted'",
                        interrupted)
    config = ConfigStore(nextcloud.appconfig if nextcloud else None, ttl=config_ttl, environ=environ)
    if nextcloud is not None:
        config.on_change(republish_page_config(env, nextcloud.ui))
    # A key of its own, derived from APP_SECRET, for the fingerprints of audited values.
    audit = SettingsAudit(storage, hmac.new(env.app_secret.encode(), b"assistant_stream/settings-audit/v1",
                                            hashlib.sha256).digest())
    config.observe(audit.observe)
    budget = BudgetGuard(storage, nextcloud.users.groups if nextcloud is not None else None)
    provider = ProviderClient()
    taskprocessing = TaskProcessingEngine(nextcloud.taskprocessing) if nextcloud is not None else None
    documents = DocumentsCheck(ContextChatEngine(nextcloud.taskprocessing)) if nextcloud is not None else None
    generations = GenerationManager(storage=storage, config=config, eventlog=eventlog, coordinator=coordinator,
                                    engine_for=EngineSelector(provider, taskprocessing),
                                    save_interval=save_interval, shutdown_grace=shutdown_grace,
                                    documents_engine_for=documents, budget=budget)
    generations.start_background()
    attachments = AttachmentService(storage=storage, config=config, extractor=Extractor(),
                                    files=nextcloud.files if nextcloud is not None else None)
    chat = ChatService(env=env, config=config, storage=storage, generations=generations, eventlog=eventlog,
                       provider=provider, nextcloud=nextcloud, attachments=attachments, documents=documents)
    admin = AdminService(storage=storage, config=config, guard=budget, audit=audit)
    return Services(env=env, config=config, chat=chat, admin=admin, tokens=StreamTokens(env.app_secret),
                    nextcloud=nextcloud, storage=storage, generations=generations, eventlog=eventlog,
                    provider=provider, coordinator=coordinator, redis=redis)


async def close_services(services: Services) -> None:
    await services.generations.shutdown()
    await services.config.aclose()
    await services.eventlog.aclose()
    await services.coordinator.aclose()
    if services.redis is not None:
        await services.redis.aclose()
    await services.provider.aclose()
    await services.storage.close()
    if services.nextcloud is not None:
        await services.nextcloud.aclose()
