"""The error hierarchy (core/errors.py): one table of statuses and codes, fields declared, one renderer each."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import get_type_hints

import pytest

from assistant_stream.core import errors
from assistant_stream.core.errors import (
    ERRORS,
    AppError,
    NextcloudError,
    ProviderConnectError,
    ProviderUnavailable,
    from_code,
    lookup,
)

ROOT = Path(__file__).resolve().parents[2]
CLASSES = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, AppError)]
# Codes the browser makes itself (no server answer at all).
CLIENT_ONLY = {"network", "app_unavailable"}


def test_every_error_class_has_its_own_row_and_every_code_is_unique() -> None:
    assert set(CLASSES) == set(ERRORS)
    codes = [code for _status, code in ERRORS.values()]
    assert len(codes) == len(set(codes))
    assert all(400 <= status < 600 for status, _code in ERRORS.values())


def test_status_and_code_come_from_the_table_along_the_mro() -> None:
    class Custom(ProviderUnavailable):  # a subclass the table does not name inherits its parent's row
        pass

    assert lookup(Custom) == (502, "provider_unavailable")
    assert (errors.ProviderTimeout().status, errors.ProviderTimeout().code) == (504, "provider_timeout")
    assert errors.SessionBusy().status == 400 and errors.RouteNotFound().code == "http_404"


@pytest.mark.parametrize("cls", CLASSES)
def test_instances_carry_only_declared_fields(cls: type[AppError]) -> None:
    declared = set(get_type_hints(cls))
    assert set(vars(cls())) <= declared, set(vars(cls())) - declared


def test_upstream_details_are_fields_of_their_class() -> None:
    nc = NextcloudError("Not found in Nextcloud (read task)", nc_status=404, nc_reason="gone")
    assert (nc.nc_status, nc.nc_reason) == (404, "gone")
    assert ProviderConnectError("x", kind="dns").kind == "dns"
    assert ProviderUnavailable("x", upstream_status=503).upstream_status == 503


def test_a_stored_code_rebuilds_its_error() -> None:
    rebuilt = from_code("provider_timeout", "took too long")
    assert type(rebuilt) is errors.ProviderTimeout and rebuilt.message == "took too long"
    unknown = from_code("from_a_future_version", None)
    assert type(unknown) is errors.GenerationFailed and unknown.code == "generation_failed"
    assert from_code(None, "old").message == "old"


def test_every_server_error_code_has_user_text_in_the_frontend() -> None:
    source = (ROOT / "src" / "errors.js").read_text(encoding="utf-8")
    titles = source.split("function advice()")[0]  # the titles table: one `code: t(...)` line per code
    described = set(re.findall(r"^\t\t([a-z0-9_]+): t\('assistant_stream', '", titles, re.MULTILINE))
    server = {code for _status, code in ERRORS.values()}
    assert server - described == set(), "codes without user text in src/errors.js"
    assert described - server <= CLIENT_ONLY, "src/errors.js describes codes the server never sends"
