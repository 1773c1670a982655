"""Engines that write answers: the OpenAI-compatible client, split by job, and TaskProcessing."""
