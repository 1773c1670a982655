"""The admin settings form (nextcloud/settings_form.py): one field per setting it shows, with the app's defaults; the
key only as its write-only inbox."""

from __future__ import annotations

from nc_py_api.ex_app import SettingsFieldType

from assistant_stream.core.settings import INBOXES, KEY_INBOX, SETTING_KEYS, Settings
from assistant_stream.nextcloud.settings_form import SETTINGS_FORM_ID, settings_form


def test_fields_are_settings_with_the_defaults_the_app_uses() -> None:
    form = settings_form()
    assert form.id == SETTINGS_FORM_ID and form.section_id == "ai" and form.section_type == "admin"
    fields = {f.id: f for f in form.fields}
    assert set(fields) <= set(SETTING_KEYS) | set(INBOXES) and "streaming_api_url" in fields
    # Issue 11 defect 2: the forms API hands every field's value to the browser, so the key is no field.
    assert "streaming_api_key" not in fields
    defaults = Settings()
    for key, field in fields.items():
        if key != KEY_INBOX:
            assert field.default == getattr(defaults, key), key
    key = fields[KEY_INBOX]
    assert key.type == SettingsFieldType.PASSWORD and key.sensitive is True and key.default == ""
    assert "write-only" in key.title and "never shown" in key.description
    assert all(f.type == SettingsFieldType.NUMBER for k, f in fields.items()
               if k in SETTING_KEYS and isinstance(getattr(defaults, k), int))
