"""The interop fixtures (LiteLLM proxy, llama.cpp llama-server): defined in tests/support/interop.py."""

from tests.support.interop import litellm_proxy, llama_server, relay_upstream, tiny_gguf  # noqa: F401 - fixtures
