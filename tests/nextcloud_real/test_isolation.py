"""Users are kept apart through the real proxy: another user's sessions and messages answer 404 on every route."""

from __future__ import annotations

from tests.support.nextcloud_real.client import PROXY, new_message, new_session, poll_answer
from tests.support.nextcloud_real.plugin import RealStack
from tests.support.nextcloud_real.provider import marker


async def test_second_user_gets_404_for_the_first_users_data(real_nc: RealStack) -> None:
    await real_nc.settled()
    alice, bob = real_nc.as_user("alice"), real_nc.as_user("bob")
    sid = await new_session(alice, "Alice's secrets")
    hid = await new_message(alice, sid, f"Private question {marker()}")
    aid = (await poll_answer(alice, sid, hid)).final["messageId"]
    titles = {s["id"]: s["title"] for s in (await alice.get(f"{PROXY}/chat/sessions")).json()}
    ids = {"sessionId": sid}
    both = {"sessionId": sid, "messageId": aid}
    human = {"sessionId": sid, "messageId": hid}
    attempts = [
        ("GET", "/chat/check_session", ids, None),
        ("GET", "/chat/messages", ids, None),
        ("GET", "/chat/message", both, None),
        ("GET", "/chat/check_generation", {"sessionId": sid, "taskId": aid}, None),
        ("GET", "/chat/check_title_generation", {"sessionId": sid, "taskId": sid}, None),
        ("GET", "/chat/poll", {**human, "timeout": 0}, None),
        ("GET", "/chat/poll", {"sessionId": sid, "taskId": aid, "timeout": 0}, None),
        ("PUT", "/chat/new_message", None, {"sessionId": sid, "role": "human", "content": "injected"}),
        ("PUT", "/chat/update_session", None, {"sessionId": sid, "title": "pwned"}),
        ("POST", "/chat/update_session", None, {"sessionId": sid, "title": "pwned"}),
        ("POST", "/chat/generate", None, ids),
        ("GET", "/chat/regenerate", both, None),
        ("POST", "/chat/generate_title", None, ids),
        ("POST", "/chat/stop", None, human),
        ("POST", "/chat/stream_token", None, human),
        ("DELETE", "/chat/delete_message", both, both),
        ("DELETE", "/chat/delete_session", ids, ids),
    ]
    for method, path, params, body in attempts:
        r = await bob.request(method, f"{PROXY}{path}", params=params, json=body)
        assert r.status_code == 404, f"bob {method} {path}: {r.status_code} {r.text[:200]}"
    r = await bob.get(f"{PROXY}/chat/sessions")
    assert sid not in [s["id"] for s in r.json()]
    # Nothing of alice's changed.
    r = await alice.get(f"{PROXY}/chat/messages", params=ids)
    assert [m["id"] for m in r.json()] == [hid, aid]
    r = await alice.get(f"{PROXY}/chat/sessions")
    assert {s["id"]: s["title"] for s in r.json()}[sid] == titles[sid]
