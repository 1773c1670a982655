"""Usage and budgets: what remains of a user's budget; for admins usage over time (JSON, CSV), activity, budgets,
the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from ..core.caller import CallerKind
from ..core.errors import InvalidParameter
from .client_config import delivery
from .endpoint import Call, route
from .params import P

router = APIRouter()

_BY = P("by", "str", required=False, default="user", max_len=8, description="user, group or model")
_DAYS = P("days", required=False, default=30, maximum=366, description="days up to today")


def _by(call: Call) -> Any:
    by = call.params["by"]
    if by not in ("user", "group", "model"):
        raise InvalidParameter("Parameter by must be user, group or model")
    return by


@route(router, "GET", "/chat/budget", ok={
    "type": "object", "required": ["budgets", "remaining"],
    "properties": {"budgets": {"type": "array"}, "remaining": {"type": ["integer", "null"]}}})
async def budget(call: Call) -> Any:
    """The token budgets that limit the caller, and the fewest tokens left of any (null: no budget)."""
    states = await call.admin.budget_states(call.user)
    tightest = min(states, key=lambda s: s.remaining, default=None)
    return {"budgets": [s.public() for s in states], "remaining": tightest.remaining if tightest else None,
            "resetsAt": int(tightest.resets_at) if tightest else None}


@route(router, "GET", "/admin/usage", [_DAYS, _BY], access="admin", ok={
    "type": "object", "required": ["by", "days", "series"],
    "properties": {"days": {"type": "array"}, "series": {"type": "array"}}})
async def usage(call: Call) -> Any:
    """Tokens per day for each user, group or model (the plot), newest day last."""
    return await call.admin.usage(call.params["days"], _by(call))


@route(router, "GET", "/admin/usage.csv", [_DAYS, _BY], access="admin", ok_media="text/csv",
       ok={"type": "string"})
async def usage_csv(call: Call) -> Any:
    """The same as CSV: one row per day and user, group or model."""
    by = _by(call)
    body = await call.admin.usage_csv(call.params["days"], by)
    return Response(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="assistant-stream-usage-by-{by}.csv"'})


@route(router, "GET", "/admin/activity", access="admin", ok={
    "type": "object", "required": ["running", "errors", "outcomes", "delivery"]})
async def activity(call: Call) -> Any:
    """Answers generating now, failures by code, each engine and model's recent outcomes, the delivery path."""
    settings = await call.chat.settings()
    return {**await call.admin.activity(),
            "delivery": delivery(call.chat.env, settings, local=call.caller.kind == CallerKind.LOCAL),
            "provider": {"configured": settings.streaming_configured, "model": settings.streaming_model}}


@route(router, "GET", "/admin/budgets", access="admin", ok={
    "type": "object", "required": ["budgets", "problems", "timezone", "used"]})
async def budgets(call: Call) -> Any:
    """The budgets as configured, entries left out and why, and what is used of each."""
    return await call.admin.budgets()


@route(router, "PUT", "/admin/budgets", [P("budgets", "json"), P("timezone", "str", required=False, max_len=64)],
       access="admin", ok={"type": "object", "required": ["budgets"]})
async def save_budgets(call: Call) -> Any:
    """Replace the budgets (format: docs/configuration.md "Budgets"); logged in the audit log."""
    return await call.admin.save_budgets(call.user, call.params["budgets"], call.params["timezone"])


@route(router, "GET", "/admin/audit", [P("limit", required=False, default=50, maximum=200),
                                       P("before", required=False)], access="admin",
       ok={"type": "object", "required": ["entries"]})
async def audit(call: Call) -> Any:
    """Changes to settings and budgets, newest first: who, what, when (secrets only as set or removed)."""
    return {"entries": await call.admin.audit.entries(call.params["limit"], call.params["before"])}
