"""UI registration (nextcloud/ui.py): what enable registers and disable removes, the key created encrypted."""

from __future__ import annotations

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
    assert list(fields) == ["streaming_api_url", "streaming_api_key", "streaming_model", "streaming_public_url",
                            "system_prompt", "max_tokens", "request_timeout", "history_length",
                            "max_concurrent_per_user"]
    assert fields["streaming_api_key"]["type"] == "password" and fields["streaming_api_key"]["sensitive"] is True
    assert {fields[k]["type"] for k in ("max_tokens", "request_timeout", "history_length")} == {"number"}
    assert "11434" in fields["streaming_api_url"]["description"]  # names the providers' URL shapes
    # The key exists, empty and sensitive, before the form can create it.
    assert nextcloud.appconfig_rows["streaming_api_key"] == {"value": "", "sensitive": True}


async def test_form_saves_of_the_key_read_back_in_clear_after_enable(nextcloud: NextcloudDouble,
                                                                       nc: NextcloudServer) -> None:
    assert await nc.ui.on_enabled({}) == ""
    nextcloud.admin_saves_form("streaming_api_key", API_KEY)
    assert await nc.appconfig.fetch(["streaming_api_key"]) == {"streaming_api_key": API_KEY}
    assert looks_encrypted(nextcloud.appconfig_stored("streaming_api_key"))


async def test_double_reproduces_the_form_quirk_without_a_precreated_key(nextcloud: NextcloudDouble,
                                                                         nc: NextcloudServer) -> None:
    # What on_enabled protects against: the form creating the key itself leaves ciphertext to read.
    await nc.client.app().ui.settings.register_form(settings_form())
    nextcloud.admin_saves_form("streaming_api_key", API_KEY)
    value = (await nc.appconfig.fetch(["streaming_api_key"]))["streaming_api_key"]
    assert value != API_KEY and looks_encrypted(value)


async def test_on_enabled_keeps_an_existing_key_and_makes_it_sensitive(nextcloud: NextcloudDouble,
                                                                         nc: NextcloudServer) -> None:
    nextcloud.set_appconfig("streaming_api_key", API_KEY, sensitive=False)  # e.g. occ without --sensitive
    assert await nc.ui.on_enabled({}) == ""
    assert nextcloud.appconfig_sensitive("streaming_api_key")
    assert await nc.appconfig.fetch(["streaming_api_key"]) == {"streaming_api_key": API_KEY}


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
