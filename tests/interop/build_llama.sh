#!/usr/bin/env bash
# Build llama.cpp's llama-server from the llama.cpp sources vendored in the llama-cpp-python sdist on
# PyPI (the only registry reachable here); about 11 minutes on 2 cores. Prints the binary's path.
# Idempotent: an existing binary is reused. Output under .venv-interop/ (git-ignored).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
OUT="${LLAMA_BUILD_DIR:-$ROOT/.venv-interop/llama}"
BIN="$OUT/bin/llama-server"
PIP="${PIP:-$ROOT/.venv/bin/pip}"

if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
command -v cmake >/dev/null && command -v g++ >/dev/null || {
  echo "build_llama.sh needs cmake and g++ (apt-get install -y cmake g++)" >&2; exit 1; }

mkdir -p "$OUT/src" "$OUT/bin"
sdist="$(ls "$OUT"/src/llama_cpp_python-"$VERSION".tar.gz 2>/dev/null || true)"
if [ -z "$sdist" ]; then
  "$PIP" download "llama-cpp-python==$VERSION" --no-binary :all: --no-deps -d "$OUT/src" >&2
  sdist="$OUT/src/llama_cpp_python-$VERSION.tar.gz"
fi
rm -rf "$OUT/src/llama_cpp_python-$VERSION"
tar xzf "$sdist" -C "$OUT/src"
LLAMA_SRC="$OUT/src/llama_cpp_python-$VERSION/vendor/llama.cpp"

gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
# No web UI (it would be downloaded), no OpenSSL/curl (no model downloads), static so the binary stands alone.
cmake -S "$LLAMA_SRC" -B "$OUT/build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF \
  -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DGGML_NATIVE=OFF >&2
cmake --build "$OUT/build" --target llama-server -j"$(nproc)" >&2
cp "$OUT/build/bin/llama-server" "$BIN"
echo "$BIN"
