"""appinfo/info.xml is well-formed, complete for AppAPI, and agrees with routes.ROUTES and the settings."""

from __future__ import annotations

import importlib.util
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

from assistant_stream import APP_ID, __version__
from assistant_stream.core.settings import SETTING_KEYS, env_name
from assistant_stream.web.routes import ROUTES, Access, access_for

ROOT = Path(__file__).resolve().parents[2]
INFO_XML = ROOT / "appinfo" / "info.xml"


@pytest.fixture(scope="module")
def info() -> ET.Element:
    return ET.parse(INFO_XML).getroot()  # noqa: S314 - our own file; raises when not well-formed


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_info_routes", ROOT / "tools" / "gen_info_routes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def text(el: ET.Element, path: str) -> str:
    found = el.find(path)
    assert found is not None, f"<{path}> missing"
    return (found.text or "").strip()


def test_required_elements(info: ET.Element) -> None:
    assert info.tag == "info"
    assert text(info, "id") == APP_ID
    assert text(info, "name") == "Assistant Stream"
    assert text(info, "summary") and len(text(info, "description")) > 100
    assert text(info, "version") == __version__
    assert text(info, "licence") == "agpl"
    assert text(info, "author") and text(info, "namespace") == "AssistantStream"
    assert text(info, "category") in ("ai", "tools")
    nextcloud = info.find("dependencies/nextcloud")
    assert nextcloud is not None
    assert (nextcloud.get("min-version"), nextcloud.get("max-version")) == ("30", "35")
    assert text(info, "external-app/docker-install/registry") == "ghcr.io"
    assert text(info, "external-app/docker-install/image") == "nextcloud/assistant_stream"
    assert text(info, "external-app/docker-install/image-tag") == __version__


def test_routes_equal_routes_py(info: ET.Element) -> None:
    found = []
    for route in info.findall("external-app/routes/route"):
        verbs = text(route, "verb")
        assert " " not in verbs  # AppAPI matches the method with str_contains on this list
        # AppAPI maps PUBLIC/USER/ADMIN in info.xml; a number there would be dropped as invalid.
        level = text(route, "access_level")
        assert level in ("PUBLIC", "USER", "ADMIN")
        headers = json.loads(text(route, "headers_to_exclude"))  # a JSON-encoded list, as AppAPI decodes it
        assert isinstance(headers, list)
        found.append((text(route, "url"), tuple(verbs.split(",")), Access[level], tuple(headers)))
    assert found == [(r.url, r.verbs, r.access, r.headers_to_exclude) for r in ROUTES]


def test_routes_block_is_what_the_generator_prints() -> None:
    assert generator().routes_block() in INFO_XML.read_text(encoding="utf-8")


def test_environment_variables_cover_every_setting(info: ET.Element) -> None:
    variables = info.findall("external-app/environment-variables/variable")
    names = [text(v, "name") for v in variables]
    assert len(names) == len(set(names))
    assert set(names) == {env_name(k) for k in SETTING_KEYS} | set(generator().EXTRA_ENV)
    assert {"DATABASE_URL", "LOCAL_MODE", "LOG_LEVEL"} <= set(names)
    for v in variables:
        assert text(v, "display-name") and text(v, "description")
        # A default would be passed to the container and, as an env var, override the admin form.
        assert v.find("default") is None or not (v.find("default").text or "").strip()  # type: ignore[union-attr]
    local = next(v for v in variables if text(v, "name") == "LOCAL_MODE")
    assert "never" in text(local, "description").lower()


def test_route_urls_are_valid_inside_php_slash_delimiters() -> None:
    for route in ROUTES:
        # An unescaped "/" ends PHP's pattern early; what follows is taken as (invalid) modifiers.
        assert not re.search(r"(?<!\\)/", route.url), route.url


def test_access_for_matches_as_appapi_does() -> None:
    # What the auth middleware asks before it lets the local user in (never for an admin route).
    assert access_for("/admin/status") == access_for("admin/test_connection") == Access.ADMIN
    assert access_for("/Admin/status") == Access.ADMIN  # AppAPI matches case-insensitively
    assert access_for("/chat/sessions") == access_for("/js/assistant_stream-main.js") == Access.USER
    assert access_for("/") is None and access_for("/heartbeat") is None
