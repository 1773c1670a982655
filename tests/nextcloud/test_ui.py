"""UI registration (nextcloud/ui.py): what enable registers and disable removes, the form's key inbox created
encrypted, the key itself never written."""

from __future__ import annotations

from assistant_stream.core.settings import KEY_INBOX
from assistant_stream.nextcloud.server import NextcloudServer
from assistant_stream.nextcloud.settings_form import SETTINGS_FORM_ID, settings_form
from assistant_stream.nextcloud.ui import INITIAL_STATE_KEY, MENU_NAME, SCRIPT_PATH, STYLE_PATH, UI_TYPE
from tests.support.nextcloud_double import NC_API_KEY as API_KEY
from tests.support.nextcloud_double import NextcloudDouble, looks_encrypted

# --- enable / disable ----------------------------------------------------------------------------


async def test_on_enabled_registers_menu_resources_state_and_form(nextcloud: NextcloudDouble,
                                                                  nc: NextcloudServer) -> None:
    state = {"appId": "assistant_stream", "engine": "stream"}
    assert await nc.ui.on_enabled(state) == ""

    assert nextcloud.top_menu[MENU_NAME] == {"appid": "assistant_stream", "name": "chat", "display_name": "Chat",
                                             "icon": "img/app.svg", "admin_required": 0}
    assert (UI_TYPE, MENU_NAME, SCRIPT_PATH) in nextcloud.scripts and SCRIPT_PATH == "js/assistant_stream-main"
    assert (UI_TYPE, MENU_NAME, STYLE_PATH) in nextcloud.styles
    assert not SCRIPT_PATH.endswith(".js") and not STYLE_PATH.endswith(".css")  # Nextcloud appends them
    assert nextcloud.initial_states[(UI_TYPE, MENU_NAME, INITIAL_STATE_KEY)] == state

    form = nextcloud.settings_forms[SETTINGS_FORM_ID]
    assert (form["section_type"], form["section_id"], form["title"]) == ("admin", "ai", "Assistant Stream")
    fields = {f["id"]: f for f in form["fields"]}
    assert list(fields) == ["streaming_api_url", KEY_INBOX, "streaming_model", "streaming_public_url",
                            "system_prompt", "max_tokens", "request_timeout", "history_length",
                            "max_concurrent_per_user"]
    # The key is no form field (the forms API would hand its value to the browser): a write-only inbox is.
    assert fields[KEY_INBOX]["type"] == "password" and fields[KEY_INBOX]["sensitive"] is True
    assert {fields[k]["type"] for k in ("max_tokens", "request_timeout", "history_length")} == {"number"}
    assert "11434" in fields["streaming_api_url"]["description"]  # names the providers' URL shapes
    # The inbox exists, empty and sensitive, before the form can create it; the key itself is not written.
    assert nextcloud.appconfig_rows[KEY_INBOX] == {"value": "", "sensitive": True}
    assert "streaming_api_key" not in nextcloud.appconfig_rows


async def test_form_saves_of_the_inbox_read_back_in_clear_after_enable(nextcloud: NextcloudDouble,
                                                                         nc: NextcloudServer) -> None:
    assert await nc.ui.on_enabled({}) == ""
    nextcloud.admin_saves_form(KEY_INBOX, API_KEY)
    assert await nc.appconfig.fetch([KEY_INBOX]) == {KEY_INBOX: API_KEY}  # for ConfigStore to move and empty
    assert looks_encrypted(nextcloud.appconfig_stored(KEY_INBOX))


async def test_double_reproduces_the_form_quirk_without_a_prepared_inbox(nextcloud: NextcloudDouble,
                                                                         nc: NextcloudServer) -> None:
    # What on_enabled protects against: the form creating the entry itself leaves ciphertext to read.
    await nc.client.app().ui.settings.register_form(settings_form())
    nextcloud.admin_saves_form(KEY_INBOX, API_KEY)
    value = (await nc.appconfig.fetch([KEY_INBOX]))[KEY_INBOX]
    assert value != API_KEY and looks_encrypted(value)


async def test_on_enabled_never_writes_the_key(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    # The admin may be setting it with occ while the app is being enabled: a read-then-write could undo that.
    nextcloud.set_appconfig("streaming_api_key", API_KEY, sensitive=True)
    assert await nc.ui.on_enabled({}) == ""
    assert nextcloud.calls_to("/ex-app/config", "POST")  # the inbox was created
    assert not [c for c in nextcloud.calls_to("/ex-app/config", "POST")
                if c.params.get("configKey") == "streaming_api_key"]
    assert await nc.appconfig.fetch(["streaming_api_key"]) == {"streaming_api_key": API_KEY}


async def test_on_enabled_leaves_a_pending_inbox_value_for_the_app(nextcloud: NextcloudDouble,
                                                                  nc: NextcloudServer) -> None:
    assert await nc.ui.on_enabled({}) == ""
    nextcloud.admin_saves_form(KEY_INBOX, API_KEY)
    assert await nc.ui.on_enabled({}) == ""  # enabled again before any settings read
    assert await nc.appconfig.fetch([KEY_INBOX]) == {KEY_INBOX: API_KEY}


async def test_on_disabled_removes_everything_but_keeps_settings(nextcloud: NextcloudDouble,
                                                                 nc: NextcloudServer) -> None:
    await nc.ui.on_enabled({"a": 1})
    nextcloud.set_appconfig("streaming_model", "m")
    assert await nc.ui.on_disabled() == ""
    assert (nextcloud.top_menu, nextcloud.scripts, nextcloud.styles) == ({}, {}, {})
    assert (nextcloud.initial_states, nextcloud.settings_forms) == ({}, {})
    assert nextcloud.appconfig["streaming_model"] == "m"
    assert await nc.ui.on_disabled() == ""  # twice is fine: nothing left is not an error


async def test_update_initial_state_republishes(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    await nc.ui.on_enabled({"engine": None})
    await nc.ui.update_initial_state({"engine": "stream"})
    assert nextcloud.initial_states[(UI_TYPE, MENU_NAME, INITIAL_STATE_KEY)] == {"engine": "stream"}


async def test_on_enabled_reports_an_unreachable_nextcloud_without_secrets(nextcloud: NextcloudDouble,
                                                                            nc: NextcloudServer) -> None:
    nextcloud.down()
    error = await nc.ui.on_enabled({})
    assert error and "reached" in error and nextcloud.app_secret not in error
    assert await nc.ui.on_disabled() != ""


async def test_report_init_progress(nextcloud: NextcloudDouble, nc: NextcloudServer) -> None:
    await nc.ui.report_init_progress(40)
    await nc.ui.report_init_progress(100)
    assert nextcloud.init_progress_reports == [(40, ""), (100, "")]
    assert nextcloud.init_status["init"] == 100
    assert nextcloud.calls_to("/apps/app_api/ex-app/status", "PUT")[0].path.startswith("/ocs/v1.php/")
