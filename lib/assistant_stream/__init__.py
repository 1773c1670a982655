"""Assistant Stream: a Nextcloud ExApp that streams AI chat answers token by token."""

APP_ID = "assistant_stream"
__version__ = "1.0.0"
