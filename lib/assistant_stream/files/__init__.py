"""Files attached to a chat: type detection and text extraction, bounded in a separate process."""
