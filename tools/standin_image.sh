#!/bin/sh
# Makes a local stand-in for one of the Dockerfile's base images, for machines that reach Debian's archive but
# no container registry, and prints its name:
#
#   tools/standin_image.sh python  stand-in for PYTHON_IMAGE (python:3.11-slim-bookworm): Debian bookworm (minbase)
#                                  with Debian's python3 3.11, pip, venv and a `python` command
#   tools/standin_image.sh node    stand-in for NODE_IMAGE (node:20-bookworm-slim): the python stand-in plus this
#                                  machine's installed Node.js (>= 20.19) and npm
#
# They run every step of the Dockerfile but are not the official images (those have CPython and Node.js built
# by their projects in /usr/local). The root file system is kept as a tarball in the cache folder and the images
# in the local container store, so only the first run on a machine runs debootstrap.
set -eu

kind=${1:?usage: $0 python|node}
SUITE=bookworm
PACKAGES=python3,python3-venv,python3-pip,python-is-python3,ca-certificates
RECIPE=1  # bump when the steps below change
key=$(printf '%s %s %s' "$RECIPE" "$SUITE" "$PACKAGES" | sha256sum | cut -c1-12)
python_image=localhost/assistant_stream-standin/python:3.11-slim-$SUITE-$key
cache=${ASSISTANT_STREAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/assistant_stream}
tarball=$cache/standin-python-$SUITE-$key.tar

have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }

mkdir -p "$cache"
exec 9>"$cache/standin.lock"
flock 9  # two test runs on one machine build it once

if ! have_image "$python_image"; then
  if [ ! -s "$tarball" ]; then
    # The archive apt uses on this machine (a mirror, a proxy), else Debian's own.
    mirror=${DEBIAN_MIRROR:-$(apt-get indextargets --format '$(REPO_URI)' "Label: Debian" "Codename: $SUITE" \
      2>/dev/null | head -n 1)}
    mirror=${mirror:-http://deb.debian.org/debian/}
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    echo "debootstrap $SUITE from $mirror (once per machine; cached in $tarball)" >&2
    if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$work/rootfs" "$mirror" \
        >"$work/debootstrap.log" 2>&1; then
      tail -n 20 "$work/debootstrap.log" >&2
      exit 1
    fi
    root=$work/rootfs
    # Like the slim image: no package lists, downloaded .debs or documentation; pip may install system-wide.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
      "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/var/log/*.log
    rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
    tar -C "$root" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
      -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
    rm -rf "$work"
  fi
  ctr=$(buildah from --pull=never scratch)
  trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
  buildah add --quiet "$ctr" "$tarball" / >/dev/null
  buildah config --env LANG=C.UTF-8 --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd python3 --label "org.opencontainers.image.description=stand-in for python:3.11-slim-$SUITE" "$ctr"
  buildah commit --quiet --rm "$ctr" "$python_image" >/dev/null
fi

case $kind in
  python)
    echo "$python_image"
    ;;
  node)
    node=$(command -v node) || { echo "no Node.js on this machine to make the node stand-in from" >&2; exit 1; }
    version=$("$node" --version)
    case $version in
      v20.19.*|v20.[2-9][0-9].*|v2[2-9].*|v[3-9][0-9].*) ;;
      *) echo "Node.js $version is older than the frontend's engines (^20.19 || >=22.12)" >&2; exit 1 ;;
    esac
    npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")  # .../node_modules/npm/bin/npm-cli.js
    node_image=localhost/assistant_stream-standin/node:${version#v}-$SUITE-$key
    if ! have_image "$node_image"; then
      ctr=$(buildah from --pull=never "$python_image")
      trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
      buildah copy --quiet "$ctr" "$node" /usr/local/bin/node >/dev/null
      buildah copy --quiet "$ctr" "$npm_dir" /usr/local/lib/node_modules/npm >/dev/null
      buildah run --isolation chroot "$ctr" -- ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
      buildah run --isolation chroot "$ctr" -- ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
      # Node.js keeps its own CA list; this makes it use the system's, as pip does (a TLS-intercepting proxy).
      buildah config --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt --cmd node \
        --label "org.opencontainers.image.description=stand-in for node:20-$SUITE-slim" "$ctr"
      buildah commit --quiet --rm "$ctr" "$node_image" >/dev/null
    fi
    echo "$node_image"
    ;;
  *)
    echo "usage: $0 python|node" >&2
    exit 2
    ;;
esac
