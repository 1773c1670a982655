"""The admin settings form (nextcloud/settings_form.py): one field per setting it shows, with the app's defaults."""

from __future__ import annotations

from nc_py_api.ex_app import SettingsFieldType

from assistant_stream.core.settings import SETTING_KEYS, Settings
from assistant_stream.nextcloud.settings_form import SETTINGS_FORM_ID, settings_form


def test_fields_are_settings_with_the_defaults_the_app_uses() -> None:
    form = settings_form()
    assert form.id == SETTINGS_FORM_ID and form.section_id == "ai" and form.section_type == "admin"
    fields = {f.id: f for f in form.fields}
    assert set(fields) <= set(SETTING_KEYS) and "streaming_api_url" in fields
    defaults = Settings()
    for key, field in fields.items():
        if key != "streaming_api_key":
            assert field.default == getattr(defaults, key), key
    key = fields["streaming_api_key"]
    assert key.type == SettingsFieldType.PASSWORD and key.sensitive is True and key.default == ""
    assert all(f.type == SettingsFieldType.NUMBER for k, f in fields.items() if isinstance(getattr(defaults, k), int))
