"""The web layer: create_app, routes, request parsing, the wire format, middleware (imports everything below)."""
