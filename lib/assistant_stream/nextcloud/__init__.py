"""Nextcloud: the nc_py_api transport, app config, UI registration, the settings form, users, TaskProcessing."""
