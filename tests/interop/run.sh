#!/usr/bin/env bash
# `make interop`: install LiteLLM proxy (own venv, pinned) and llama.cpp's llama-server, then run
# tests/interop with the app's venv. The app's own dependencies stay untouched.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
IVENV=.venv-interop

if [ ! -x "$IVENV/bin/litellm" ] || [ ! -x "$IVENV/bin/python" ] || ! "$IVENV/bin/python" -c 'import gguf' 2>/dev/null; then
  "$PYTHON" -m venv "$IVENV"
  # litellm 1.106.2 ONLY: a later release was reported compromised. gguf writes the tiny test model.
  "$IVENV/bin/pip" install -q 'litellm[proxy]==1.106.2' 'gguf==0.19.0'
fi
bash tests/interop/build_llama.sh >/dev/null
exec .venv/bin/pytest -q -p no:cacheprovider tests/interop "$@"
