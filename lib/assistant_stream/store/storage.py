"""Storage: every query of the app on one database object (each method is one transaction)."""

from __future__ import annotations

from .activity import ActivityQueries
from .answers import AnswerQueries
from .attachments import AttachmentQueries
from .audit import AuditQueries
from .branches import BranchQueries
from .messages import MessageQueries
from .presets import PresetQueries
from .sessions import SessionQueries
from .usage import UsageQueries


class Storage(SessionQueries, MessageQueries, BranchQueries, AnswerQueries, AttachmentQueries, PresetQueries,
              UsageQueries, ActivityQueries, AuditQueries):
    """All persistent state. User-facing methods are user-scoped; answer bookkeeping is by message id."""
