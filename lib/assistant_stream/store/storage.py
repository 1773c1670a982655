"""Storage: every query of the app on one database object (each method is one transaction)."""

from __future__ import annotations

from .answers import AnswerQueries
from .attachments import AttachmentQueries
from .messages import MessageQueries
from .sessions import SessionQueries


class Storage(SessionQueries, MessageQueries, AnswerQueries, AttachmentQueries):
    """All persistent state. User-facing methods are user-scoped; answer bookkeeping is by message id."""
