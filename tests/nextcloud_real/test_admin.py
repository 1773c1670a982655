"""Admin routes through the real proxy, and the app's own port when ``make run`` is attached to a Nextcloud."""

from __future__ import annotations

import httpx

from tests.support.nextcloud_real.client import PROXY
from tests.support.nextcloud_real.plugin import RealStack


async def test_admin_routes_refused_to_a_user(real_nc: RealStack) -> None:
    alice = real_nc.as_user("alice")
    for method, path in (("GET", "/admin/status"), ("POST", "/admin/test_connection")):
        r = await alice.request(method, f"{PROXY}{path}")
        assert r.status_code == 404, f"alice {method} {path}: {r.status_code}"
        r = await real_nc.as_admin.request(method, f"{PROXY}{path}")
        assert r.status_code == 200, f"admin {method} {path}: {r.status_code} {r.text[:200]}"
    status = await real_nc.status()
    assert status["nextcloud"]["reachable"] is True
    assert status["delivery"]["mode"] == "poll"
    assert real_nc.api_key not in str(status)


async def test_make_run_attached_to_nextcloud_has_no_local_mode(real_nc: RealStack) -> None:
    """Issue 11 defect 3: ``NEXTCLOUD_URL=... make run`` kept LOCAL_MODE=1, so any process on the host could chat
    as "local" with the admin's key and read /admin/status without authentication."""
    async with httpx.AsyncClient(base_url=real_nc.app.url, trust_env=False, timeout=15) as direct:
        r = await direct.get("/admin/status")
        assert r.status_code == 401, r.text[:200]
        r = await direct.post("/admin/test_connection")
        assert r.status_code == 401
        r = await direct.get("/chat/sessions")
        assert r.status_code == 401
        r = await direct.get("/")
        assert r.status_code in (401, 404)
        assert "local mode" not in r.text.lower()
    assert "LOCAL MODE" not in real_nc.app.log_text()
