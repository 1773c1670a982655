"""The application layer: the chat service routes call, generations, the event log, prompts, engines, titles."""
