"""The soak: mixed load from many users with kills, restarts and provider stalls (see harness.py)."""
