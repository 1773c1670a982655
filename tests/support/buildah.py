"""Builds the Dockerfile with buildah and runs containers of it (chroot isolation, the host's network)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# podman and runc/crun containers cannot start on these machines (containers.md): buildah's chroot isolation can,
# and it shares the host's network, so a containerised app listens on the host's loopback.
RUN_FLAGS = ("--isolation", "chroot", "--network", "host")
# A TLS-intercepting egress proxy is trusted through the host's CA bundle; lend it to the build's RUN steps
# without putting it in the image.
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def buildah(*args: str, timeout: float = 120) -> str:
    done = subprocess.run(["buildah", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise AssertionError(f"buildah {' '.join(args)} failed ({done.returncode}): {done.stderr[-3000:]}")
    return done.stdout.strip()


def require_tools() -> None:
    missing = [tool for tool in ("buildah", "debootstrap") if shutil.which(tool) is None]
    assert not missing, f"{', '.join(missing)} missing: `make system-deps` installs them"


def standin(kind: str) -> str:
    """The stand-in for the Dockerfile's PYTHON_IMAGE or NODE_IMAGE (tools/standin_image.sh: cached per machine)."""
    done = subprocess.run([str(ROOT / "tools" / "standin_image.sh"), kind], capture_output=True, text=True,
                          timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


FRPC_STANDIN = """#!/bin/sh
# Stand-in for frpc (the real one needs a HaRP server to talk to): records who started it and how.
{ id -u; echo "$@"; } > "$APP_PERSISTENT_STORAGE/frpc-started"
"""


def standin_frpc(workdir: Path) -> str:
    """A stand-in for the fatedier/frpc image: its frpc at the same path, a shell script (kept, it is tiny)."""
    name = f"localhost/assistant_stream-standin/frpc:{hashlib.sha256(FRPC_STANDIN.encode()).hexdigest()[:12]}"
    if subprocess.run(["buildah", "inspect", "--type", "image", name], capture_output=True, check=False).returncode:
        script = workdir / "frpc"
        script.write_text(FRPC_STANDIN)
        script.chmod(0o755)
        ctr = buildah("from", "--pull=never", "scratch")
        try:
            buildah("copy", "--chmod", "0755", ctr, str(script), "/usr/bin/frpc")
            buildah("commit", "--quiet", ctr, name)
        finally:
            buildah("rm", ctr)
    return name


def build(tag: str, build_args: dict[str, str], log: Path) -> None:
    """`buildah bud` of the repository's Dockerfile; intermediate layers stay cached for the next run."""
    cmd = ["buildah", "bud", *RUN_FLAGS, "--pull=never", "--format", "docker", "--layers", "--force-rm", "-t", tag]
    if HOST_CA.is_file():
        cmd += ["-v", f"{HOST_CA}:{HOST_CA}:ro"]
    npm_cache = Path.home() / ".npm"
    if npm_cache.is_dir():  # filled by `make frontend`: `npm ci` in the Node stage takes half the time
        cmd += ["-v", f"{npm_cache}:/root/.npm"]
    for key, value in build_args.items():
        cmd += ["--build-arg", f"{key}={value}"]
    with log.open("w") as out:
        done = subprocess.run([*cmd, str(ROOT)], stdout=out, stderr=subprocess.STDOUT, timeout=900, check=False)
    assert done.returncode == 0, f"image build failed:\n{log.read_text()[-4000:]}"


def image_config(image: str) -> dict[str, Any]:
    """The image's Docker config (User, Cmd, Entrypoint, Healthcheck, Env, ...)."""
    return json.loads(buildah("inspect", "--type", "image", image))["Docker"]["config"]


LAST = "localhost/assistant_stream-test:last"


def keep_as_cache(image: str) -> None:
    """Replace the previous test image by this one under one name: its layers are the next build's cache.

    (Removing an image also removes its untagged parents, the cached steps, unless another image needs them;
    so the old image goes, with only the layers this one does not share.)
    """
    def image_id(name: str) -> str | None:
        try:
            return buildah("inspect", "--type", "image", "--format", "{{.FromImageID}}", name)
        except AssertionError:
            return None

    old, new = image_id(LAST), image_id(image)
    buildah("tag", image, LAST)
    buildah("rmi", image)  # the name only: LAST still names it
    if old and old != new:
        with contextlib.suppress(AssertionError):  # another run on this machine may still use it
            buildah("rmi", old)


class Container:
    """A working container of an image; ``start`` runs a command in it as `docker run` would run the image."""

    def __init__(self, image: str) -> None:
        self.image = image
        self.id = buildah("from", "--pull=never", "--name", f"assistant-stream-test-{uuid.uuid4().hex[:8]}", image)
        self.process: subprocess.Popen[bytes] | None = None
        self.log: Path | None = None
        self.removed = False

    @staticmethod
    def _args(env: dict[str, str], volumes: dict[Path, str]) -> list[str]:
        args = [*RUN_FLAGS]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        for host, target in volumes.items():
            args += ["-v", f"{host}:{target}"]
        return args

    def start(self, argv: list[str], env: dict[str, str], log: Path, volumes: dict[Path, str] | None = None) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(["buildah", "run", *self._args(env, volumes or {}), self.id, "--", *argv],
                                            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)

    def run(self, argv: list[str], env: dict[str, str] | None = None, timeout: float = 60,
            volumes: dict[Path, str] | None = None) -> subprocess.CompletedProcess[str]:
        """A second process in the same container (what `docker exec` and the HEALTHCHECK do)."""
        return subprocess.run(["buildah", "run", *self._args(env or {}, volumes or {}), self.id, "--", *argv],
                              capture_output=True, text=True, timeout=timeout, check=False)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""

    def rootfs(self) -> Path:
        """The container's file system as the host sees it (for its unix sockets and files)."""
        return Path(buildah("mount", self.id))

    def stop_processes(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def remove(self) -> None:
        if self.removed:
            return
        self.stop_processes()
        with contextlib.suppress(AssertionError):
            buildah("umount", self.id)
        buildah("rm", self.id)
        self.removed = True
