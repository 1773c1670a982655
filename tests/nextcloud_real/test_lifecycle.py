"""Registration, enable and disable on the real Nextcloud: the navigation entry, the embedded page, the form."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.nextcloud_real.client import EMBEDDED, FORMS, PROXY, navigation_entries, ocs, ocs_data, wait_for
from tests.support.nextcloud_real.plugin import RealStack

ROOT = Path(__file__).resolve().parents[2]
NAV_ID = "app_api_assistant_stream_chat"
FORM_ID = "assistant_stream_admin"


async def _state(real_nc: RealStack) -> dict[str, object]:
    """What a user and the admin see of the app: navigation entry, embedded page, admin form, a proxied route."""
    alice = real_nc.as_user("alice")
    entries = await navigation_entries(alice)
    page = await alice.get(EMBEDDED)
    forms = ocs_data(await ocs(real_nc.as_admin, "GET", FORMS))
    proxied = await alice.get(f"{PROXY}/chat/sessions")
    return {"nav": [e for e in entries if e.get("id") == NAV_ID], "page": page.status_code,
            "form": [f["id"] for f in forms if f.get("app") == "assistant_stream"], "proxy": proxied.status_code}


async def test_registered_app_is_enabled_with_its_navigation_entry(real_nc: RealStack) -> None:
    listed = await real_nc.nc.occ("app_api:app:list")
    assert re.search(r"assistant_stream \(Assistant Stream\): [\d.]+ \[enabled\]", listed.stdout), listed.stdout
    state = await _state(real_nc)
    [entry] = state["nav"]
    assert entry["name"] == "Chat"
    assert entry["href"] == EMBEDDED
    assert entry["icon"] == f"{PROXY}/img/app.svg"
    assert entry["app"] == "app_api"
    assert (state["page"], state["form"], state["proxy"]) == (200, [FORM_ID], 200)


async def test_disable_removes_everything_and_enable_restores_it(real_nc: RealStack) -> None:
    occ = real_nc.nc.occ
    try:
        await occ("app_api:app:disable", "assistant_stream")
        state = await _state(real_nc)
        assert state == {"nav": [], "page": 404, "form": [], "proxy": 404}
    finally:
        await occ("app_api:app:enable", "assistant_stream")

    async def enabled_again() -> dict[str, object] | None:
        state = await _state(real_nc)
        return state if state["nav"] else None

    state = await wait_for(enabled_again, timeout=20, what="the app enabled again")
    assert len(state["nav"]) == 1
    assert (state["page"], state["form"], state["proxy"]) == (200, [FORM_ID], 200)
    assert real_nc.app.log_text().count("Removed the top menu entry") >= 1


async def test_printed_daemon_command_names_this_nextcloud(real_nc: RealStack) -> None:
    """Issue 11 defect 6: the printed daemon register command hard-coded http://localhost."""
    [daemon] = [argv for argv in real_nc.app.printed.register if argv[0] == "app_api:daemon:register"]
    assert daemon[-1] == real_nc.url
    assert "http://localhost" not in real_nc.app.printed.text
    listed = await real_nc.nc.occ("app_api:daemon:list")
    assert real_nc.url in listed.stdout


async def test_docs_name_the_admin_section_as_nextcloud_shows_it(real_nc: RealStack) -> None:
    """Issue 11 defect 6: the form's section ("ai") is labelled "Assistant" on 32 and 33, not "Artificial
    Intelligence"; the docs must say what the admin sees."""
    r = await real_nc.as_admin.get("/index.php/settings/admin/ai", headers={"Accept": "text/html"})
    assert r.status_code == 200
    match = re.search(r'data-section-id="ai"[^>]*>.*?<span>([^<]+)</span>', r.text, re.S)
    assert match, "no admin section with the id ai"
    label = match.group(1).strip()
    assert label == "Assistant"
    docs = (ROOT / "docs" / "configuration.md").read_text()
    assert f"Administration settings → {label} → Assistant Stream" in docs
    assert "Artificial Intelligence" not in docs
