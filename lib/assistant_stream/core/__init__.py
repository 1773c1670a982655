"""The ground floor: errors, environment, settings, limits, text, events, tokens, callers (imports nothing above)."""
