"""`make bench`: the relay benchmark. Starts every party as its own process on loopback, runs the
five figures, writes bench/results/ (table, JSON, plots) and docs/performance.md.

Parties: the load provider (bench/provider.py), the minimal relay anchor (bench/relay.py), Assistant
Stream (`python -m assistant_stream`, one uvicorn worker, SQLite, restarted fresh for each load level;
for figures 6-8 also with Redis and PostgreSQL, several workers and two replicas), LiteLLM proxy 1.106.2
in its own venv (.venv-litellm) relaying the same provider, the buffering proxy double (bench/proxy.py),
Redis and PostgreSQL servers from Debian on loopback (started here as the tests start them), and the
load client (bench/client.py, one process per measurement).

Options: --quick (short windows and fewer levels, for trying the harness), --levels 1,100,...,
--no-litellm. Everything is bounded: each client run has a time limit, and the whole run aborts
after --max-minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import report

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))  # the one free_port helper lives with the tests' other helpers

from tests.support.ports import free_port  # noqa: E402

RESULTS = BENCH / "results"
RAW = RESULTS / "raw"
PY = sys.executable
LITELLM_VENV = ROOT / ".venv-litellm"
LITELLM_VERSION = "1.106.2"  # ONLY this one: a later release was reported compromised
LITELLM_KEY = "sk-bench-" + secrets.token_hex(8)
APP_SECRET = secrets.token_urlsafe(32)
USERS = [f"bench{i}" for i in range(20)]
P99_LIMIT_MS = 100.0


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _more_files() -> None:
    """In the child: as many file descriptors as allowed (2,000 streams need 4,000+ in the app)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float, what: str, logfile: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {logfile.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # loopback only
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s: {logfile.read_text(errors='replace')[-2000:]}")


class Procs:
    """The processes this run started; stopped by their own pid, nothing else."""

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, cmd: list[str], env: dict[str, str], logfile: Path,
              cwd: Path = ROOT) -> subprocess.Popen[bytes]:
        with logfile.open("ab") as out:
            proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                    preexec_fn=_more_files)
        self.procs[name] = proc
        return proc

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


def base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env["PYTHONUNBUFFERED"] = "1"
    return env


# --- parties -------------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, started: float) -> None:
        self.args = args
        self.procs = Procs()
        self.work = Path(tempfile.mkdtemp(prefix="assistant-stream-bench-"))
        self.provider_port = free_port()
        self.app_port = 0
        self.app_runs = 0
        self.litellm_port = 0
        self.proxy_port = free_port()
        self.litellm_missing: str | None = None
        self.installer: subprocess.Popen[bytes] | None = None
        self.install_started = 0.0
        self.install_note = ""
        self.litellm_ready = False
        self.deadline = started + args.max_minutes * 60
        self.app_ports: list[int] = []
        self.relay_port = 0
        self.services = Services(self.work)

    # provider
    def start_provider(self) -> None:
        proc = self.procs.start("provider", [PY, str(BENCH / "provider.py"), "--port", str(self.provider_port)],
                                base_env(), RAW / "provider.log")
        wait_http(f"http://127.0.0.1:{self.provider_port}/health", proc, 20, "load provider", RAW / "provider.log")

    @property
    def provider_pid(self) -> int:
        return self.procs.procs["provider"].pid

    # Assistant Stream
    def start_app(self, setup: str = "sqlite") -> None:
        """Fresh app process(es) on a new database: each load level starts from the same state.

        ``setup``: ``sqlite`` (one worker, the default deployment), ``pg`` (one worker, PostgreSQL, no
        Redis), ``redis-1w`` / ``redis-2w`` (PostgreSQL + Redis, WORKERS=1/2), ``replicas`` (two
        one-worker processes on PostgreSQL + Redis, each with its own port).
        """
        for name in ("app", "app2"):
            self.procs.stop(name)
        self.app_runs += 1
        self.app_port = free_port()
        self.app_ports = [self.app_port]
        data = self.work / f"app{self.app_runs}"
        env = {**base_env(), "APP_ID": "assistant_stream", "APP_SECRET": APP_SECRET, "APP_VERSION": "1.0.0",
               "APP_HOST": "127.0.0.1", "APP_PORT": str(self.app_port), "APP_PERSISTENT_STORAGE": str(data),
               "NEXTCLOUD_URL": "http://127.0.0.1:9",
               "STREAMING_API_URL": f"http://127.0.0.1:{self.provider_port}/v1", "STREAMING_MODEL": "load",
               "MAX_CONCURRENT_PER_USER": "100000", "MAX_STARTS_PER_MINUTE": "0", "WORKERS": "1"}
        if setup != "sqlite":
            env["DATABASE_URL"] = self.services.fresh_database(f"bench{self.app_runs}")
        if setup.startswith("redis") or setup == "replicas":
            self.services.redis.flush()
            env["REDIS_URL"] = self.services.redis.url
        if setup == "redis-2w":
            env["WORKERS"] = "2"
        proc = self.procs.start("app", [PY, "-m", "assistant_stream"], env, RAW / "app.log")
        wait_http(f"http://127.0.0.1:{self.app_port}/heartbeat", proc, 60, "Assistant Stream", RAW / "app.log")
        if setup == "replicas":
            port2 = free_port()
            env2 = {**env, "APP_PORT": str(port2), "APP_PERSISTENT_STORAGE": str(data) + "-2"}
            proc2 = self.procs.start("app2", [PY, "-m", "assistant_stream"], env2, RAW / "app2.log")
            wait_http(f"http://127.0.0.1:{port2}/heartbeat", proc2, 60, "Assistant Stream (replica 2)",
                      RAW / "app2.log")
            self.app_ports.append(port2)

    @property
    def app_pid(self) -> int:
        return self.procs.procs["app"].pid

    @property
    def app_pids(self) -> list[int]:
        return [self.procs.procs[n].pid for n in ("app2",) if n in self.procs.procs]

    # the minimal relay anchor
    def start_relay(self) -> None:
        self.relay_port = free_port()
        proc = self.procs.start("relay", [PY, str(BENCH / "relay.py"), "--port", str(self.relay_port),
                                          "--upstream", f"127.0.0.1:{self.provider_port}"],
                                base_env(), RAW / "relay.log")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.relay_port), 0.5):
                return
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("the minimal relay anchor did not start: see bench/results/raw/relay.log")

    # LiteLLM
    def litellm_installed(self) -> bool:
        exe, pip = LITELLM_VENV / "bin" / "litellm", LITELLM_VENV / "bin" / "pip"
        if not exe.exists():
            return False
        got = subprocess.run([str(pip), "show", "litellm"], capture_output=True, text=True).stdout
        return f"Version: {LITELLM_VERSION}\n" in got

    def start_install(self) -> None:
        """First run only: install LiteLLM in the background while the figures that do not need it run."""
        if self.args.no_litellm or self.litellm_installed():
            return
        log(f"installing litellm[proxy]=={LITELLM_VERSION} into {LITELLM_VENV.name} in the background (first run)")
        try:
            subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True, timeout=120)
            with (RAW / "litellm-install.log").open("wb") as err:
                self.installer = subprocess.Popen(
                    [str(LITELLM_VENV / "bin" / "pip"), "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"],
                    stdout=subprocess.DEVNULL, stderr=err)
            self.install_started = time.monotonic()
        except (subprocess.SubprocessError, OSError) as exc:
            self.litellm_missing = f"could not create .venv-litellm: {type(exc).__name__}: {exc}"

    def finish_install(self) -> None:
        if self.installer is None:
            return
        left = max(30.0, self.deadline - time.monotonic() - 150)
        try:
            code = self.installer.wait(timeout=left)
        except subprocess.TimeoutExpired:
            self.installer.kill()
            self.installer.wait(5)
            code = -1
        took = time.monotonic() - self.install_started
        self.install_note = f"LiteLLM was installed during this run ({took:.0f} s, in the background)"
        self.installer = None
        if code != 0 or not self.litellm_installed():
            self.litellm_missing = (f"could not install litellm[proxy]=={LITELLM_VERSION} into .venv-litellm "
                                    f"(pip exit {code} after {took:.0f} s; see bench/results/raw/litellm-install.log)")

    def start_litellm(self) -> None:
        if self.args.no_litellm:
            self.litellm_missing = "skipped with --no-litellm"
            return
        self.finish_install()
        if self.litellm_missing:
            return
        if not self.litellm_installed():
            self.litellm_missing = f"litellm[proxy]=={LITELLM_VERSION} is not installed in .venv-litellm"
            return
        self.litellm_port = free_port()
        config = {"model_list": [{"model_name": "relay", "litellm_params": {
            "model": "openai/load", "api_key": "unused", "api_base": f"http://127.0.0.1:{self.provider_port}/v1"}}]}
        cfg = self.work / "litellm.yaml"
        cfg.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
        env = {**base_env(), "LITELLM_MASTER_KEY": LITELLM_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
               "LITELLM_TELEMETRY": "False"}
        proc = self.procs.start("litellm", [str(LITELLM_VENV / "bin" / "litellm"), "--config", str(cfg),
                                            "--host", "127.0.0.1", "--port", str(self.litellm_port),
                                            "--num_workers", "1"], env, RAW / "litellm.log", cwd=self.work)
        try:
            wait_http(f"http://127.0.0.1:{self.litellm_port}/health/liveliness", proc, 180, "LiteLLM",
                      RAW / "litellm.log")
        except RuntimeError as exc:
            self.litellm_missing = f"LiteLLM {LITELLM_VERSION} did not start: {str(exc)[:300]}"
            self.procs.stop("litellm")

    @property
    def litellm_pid(self) -> int | None:
        p = self.procs.procs.get("litellm")
        return p.pid if p else None

    def start_proxy(self) -> None:
        proc = self.procs.start("proxy", [PY, str(BENCH / "proxy.py"), "--port", str(self.proxy_port), "--upstream",
                                          f"http://127.0.0.1:{self.app_port}", "--secret", APP_SECRET],
                                base_env(), RAW / "proxy.log")
        time.sleep(0.5)
        if proc.poll() is not None:
            raise RuntimeError("the buffering proxy double did not start: see bench/results/raw/proxy.log")

    # targets as the client sees them
    def target(self, kind: str) -> dict[str, Any]:
        if kind == "direct":
            return {"kind": "direct", "host": "127.0.0.1", "port": self.provider_port, "pid": self.provider_pid}
        if kind == "relay":
            return {"kind": "relay", "host": "127.0.0.1", "port": self.relay_port, "pid": self.procs.procs["relay"].pid}
        if kind.startswith("ours"):
            return {"kind": "ours", "name": kind, "host": "127.0.0.1", "port": self.app_port, "secret": APP_SECRET,
                    "users": USERS, "pid": self.app_pid, "ports": self.app_ports, "pids": self.app_pids}
        return {"kind": "litellm", "host": "127.0.0.1", "port": self.litellm_port, "api_key": LITELLM_KEY,
                "model": "relay", "pid": self.litellm_pid}

    def kinds(self) -> list[str]:
        return ["direct", "relay", "ours"] + (["litellm"] if self.litellm_ready else [])

    # --- client runs ----------------------------------------------------------------------------------

    def client(self, name: str, spec: dict[str, Any], on_window: Any = None) -> dict[str, Any]:
        left = self.deadline - time.monotonic()
        if left < 20:
            raise TimeoutError("the benchmark's time budget is used up")
        spec = {**spec, "provider_port": self.provider_port, "max_seconds": min(spec.get("max_seconds", 240), left)}
        spec_path, out_path = RAW / f"{name}.spec.json", RAW / f"{name}.json"
        spec_path.write_text(json.dumps(spec, indent=1), encoding="utf-8")
        out_path.unlink(missing_ok=True)
        with (RAW / "client.log").open("ab") as out:
            proc = subprocess.Popen([PY, str(BENCH / "client.py"), str(spec_path), str(out_path)], cwd=ROOT,
                                    env=base_env(), stdout=out, stderr=subprocess.STDOUT, preexec_fn=_more_files)
        try:
            if on_window is not None:
                on_window(proc)
            proc.wait(timeout=spec["max_seconds"] + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            raise
        if proc.returncode != 0 or not out_path.exists():
            tail = (RAW / "client.log").read_text(errors="replace")[-1500:]
            raise RuntimeError(f"client run {name} failed ({proc.returncode}): {tail}")
        return json.loads(out_path.read_text(encoding="utf-8"))


class Services:
    """Redis and PostgreSQL from Debian on loopback, started on first use (as the tests start them)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self._redis: Any = None
        self._pg: Any = None

    @property
    def redis(self) -> Any:
        if self._redis is None:
            sys.path.insert(0, str(ROOT))
            from tests.support.redis_server import RedisServer

            self._redis = RedisServer()
            self._redis.start()
        return self._redis

    def fresh_database(self, name: str) -> str:
        if self._pg is None:
            sys.path.insert(0, str(ROOT))
            from tests.support.pg import PgServer

            self._pg = PgServer()
            self._pg.start()
        return self._pg.create_db(name)

    def pids(self) -> dict[str, int]:
        out = {}
        if self._redis is not None and self._redis.proc is not None:
            out["redis-server"] = self._redis.proc.pid
        return out

    def stop(self) -> None:
        if self._redis is not None:
            self._redis.close()
        if self._pg is not None:
            self._pg.stop()


# --- figures -------------------------------------------------------------------------------------------


def figure5_decode() -> dict[str, Any]:
    """Reuses bench/decode_bench.py (another engineer's): our decoder+parser vs openai-python's."""
    sys.path.insert(0, str(BENCH))
    import decode_bench

    return decode_bench.run(repeats=5)


def figure1_ttft(b: Bench) -> dict[str, Any]:
    rounds = 40 if b.args.quick else 150
    return b.client("fig1-ttft", {"mode": "ttft", "targets": [b.target(k) for k in b.kinds()],
                                  "rounds": rounds, "warmup": 5, "tokens": 3, "max_seconds": 150})


def figure4_visible(b: Bench, litellm_only: bool = False) -> dict[str, Any]:
    count = 10 if b.args.quick else 20
    if litellm_only:
        return b.client("fig4-visible-litellm", {
            "mode": "visible", "streams": count, "tokens": 40, "rate": 20, "max_seconds": 120,
            "transports": [{"name": "LiteLLM SSE (direct)", "transport": "sse", "target": b.target("litellm")}]})
    ours = b.target("ours")
    transports = [
        {"name": "provider SSE (direct)", "transport": "sse", "target": b.target("direct")},
        {"name": "Assistant Stream SSE (direct / HaRP)", "transport": "sse", "target": ours},
        {"name": "Assistant Stream SSE through buffering proxy", "transport": "sse", "target": ours,
         "proxy_port": b.proxy_port},
        {"name": "Assistant Stream long-poll through buffering proxy", "transport": "longpoll", "target": ours,
         "proxy_port": b.proxy_port},
        {"name": "Assistant-style polling every 2 s through buffering proxy", "transport": "assistant",
         "target": ours, "proxy_port": b.proxy_port, "interval": 2.0},
    ]
    return b.client("fig4-visible", {"mode": "visible", "streams": count, "tokens": 40, "rate": 20,
                                     "transports": transports, "max_seconds": 200})


OPEN_BUDGET = 30.0  # seconds for all streams of a level to get their first token, or the level fails


def _load_spec(b: Bench, kind: str, streams: int, measure: float) -> dict[str, Any]:
    ramp = 0.0 if streams == 1 else max(0.5, streams / 250)
    return {"mode": "load", "target": b.target(kind), "streams": streams, "rate": 20.0, "ramp": ramp,
            "settle": 1.0, "measure": measure, "slack": 2.0, "open_budget": OPEN_BUDGET,
            "provider_pid": b.provider_pid, "max_seconds": 240}


def passes(r: dict[str, Any]) -> bool:
    p99 = r["latency_ms"]["p99"]
    return r["errors"] == 0 and r.get("all_opened", False) and p99 is not None and p99 <= P99_LIMIT_MS


DISTURBED_CORES = 0.25  # a failing level is repeated once when other processes took more than this


SETUPS = {"ours": "sqlite", "ours-pg": "pg", "ours-redis-1w": "redis-1w", "ours-redis-2w": "redis-2w",
          "ours-2-replicas": "replicas"}


def _level(b: Bench, kind: str, level: int, measure: float) -> dict[str, Any]:
    if kind in SETUPS:
        b.start_app(SETUPS[kind])
    log(f"load: {kind} at {level} streams")
    try:
        spec = _load_spec(b, kind, level, measure)
        if kind in SETUPS and SETUPS[kind] != "sqlite":
            spec["watch"] = b.services.pids()
        r = b.client(f"fig2-{kind}-{level}", spec)
    except (RuntimeError, subprocess.TimeoutExpired, TimeoutError) as exc:
        r = {"mode": "load", "target": kind, "streams": level, "errors": -1, "harness_error": str(exc)[:500],
             "latency_ms": {"p50": None, "p99": None}}
    r["passed"] = passes(r)
    lat = r["latency_ms"]
    log(f"  p50 {lat['p50']} ms, p99 {lat['p99']} ms, errors {r['errors']}, other CPU {r.get('other_cpu_util')}, "
        f"cpu/chunk {r.get('target_cpu_us_per_chunk')} us, {'ok' if r['passed'] else 'FAILED'}")
    return r


def figure2_load(b: Bench, levels: list[int], relays: list[str], f2: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
    """Escalate ``relays`` level by level (each stops at its first failure), with the direct baseline
    at every level that a relay reaches (measured once per level, shared between calls)."""
    measure = 5.0 if b.args.quick else 8.0
    f2 = f2 or {"levels": levels, "runs": {"direct": []}, "first_failed": {"direct": None},
                "criterion": f"p99 per-chunk latency <= {P99_LIMIT_MS:g} ms and no errors"}
    runs, failed = f2["runs"], f2["first_failed"]
    for kind in relays:
        runs.setdefault(kind, [])
        failed.setdefault(kind, None)
    for level in levels:
        todo = [k for k in relays if failed[k] is None]
        if not todo:
            break
        if not any(r["streams"] == level for r in runs["direct"]):
            todo.insert(0, "direct")
        for kind in todo:
            r = _level(b, kind, level, measure)
            if not r["passed"] and (r.get("other_cpu_util") or 0) > DISTURBED_CORES:
                # Another session's work took the cores: measure once more, keep both.
                log(f"  other processes took {r['other_cpu_util']:.2f} cores during that window: once more")
                first = r
                r = _level(b, kind, level, measure)
                r["disturbed_attempt"] = {k: first.get(k) for k in ("latency_ms", "errors", "other_cpu_util",
                                                                   "target_cpu_util", "open_s", "passed")}
            runs[kind].append(r)
            if not r["passed"] and kind != "direct":
                failed[kind] = level
            if kind in SETUPS:
                b.procs.stop("app")
                b.procs.stop("app2")
    runs["direct"].sort(key=lambda r: r["streams"])
    f2["capacity"] = {k: max([r["streams"] for r in v if r["passed"]], default=0) for k, v in runs.items()}
    return f2


def figure7_resume(b: Bench) -> dict[str, Any]:
    """Resume on the other replica: a stream read on replica 1, dropped, resumed on replica 2."""
    b.start_app("replicas")
    try:
        rounds = 10 if b.args.quick else 30
        return b.client("fig7-resume", {"mode": "resume", "target": b.target("ours-2-replicas"), "rounds": rounds,
                                        "tokens": 40, "rate": 20, "read_before": 5, "max_seconds": 150})
    finally:
        b.procs.stop("app")
        b.procs.stop("app2")


def figure8_redis_cost(b: Bench, level: int) -> dict[str, Any]:
    """The same load on PostgreSQL without and with Redis (one worker): the app's CPU per chunk, and Redis's."""
    out: dict[str, Any] = {"streams": level, "runs": {}}
    measure = 5.0 if b.args.quick else 8.0
    for kind in ("ours-pg", "ours-redis-1w", "ours-pg", "ours-redis-1w"):  # interleaved twice: noise shows
        r = _level(b, kind, level, measure)
        out["runs"].setdefault(kind, []).append(r)
        b.procs.stop("app")
    return out


def figure9_transports(b: Bench) -> dict[str, Any]:
    """bench/transport_bench.py, one process per variant, against the load provider."""
    import transport_bench

    out: dict[str, Any] = {"streams": 200, "tokens": 150, "rate": 50.0, "variants": {}}
    for _round in range(2):
        for variant in transport_bench.VARIANTS:
            cmd = [PY, str(BENCH / "transport_bench.py"), "--variant", variant, "--port", str(b.provider_port),
                   "--streams", "200", "--tokens", "150", "--rate", "50"]
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=90, env=base_env(), cwd=ROOT)
                r = json.loads(done.stdout.strip().splitlines()[-1])
            except (subprocess.SubprocessError, ValueError, IndexError) as exc:
                r = {"error": f"{type(exc).__name__}: {exc!s:.200}"}
            out["variants"].setdefault(variant, []).append(r)
    return out


def profile_app(b: Bench, level: int) -> dict[str, Any]:
    """py-spy on the app while it relays ``level`` streams (a separate run: sampling disturbs timing)."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        found = shutil.which("py-spy")
        if not found:
            return {"error": "py-spy is not installed (it is in the bench extra)"}
        spy = Path(found)
    b.start_app()
    out = RAW / f"profile-{level}.txt"
    svg = RESULTS / "profile_flamegraph.svg"
    duration = 8
    result: dict[str, Any] = {"streams": level, "duration_s": duration, "rate_hz": 200}
    spy_log = RAW / "py-spy.log"

    marker = RAW / f"profile-{level}.window"
    marker.unlink(missing_ok=True)
    spec = {**_load_spec(b, "ours", level, duration + 6), "window_file": str(marker)}

    def record(proc: subprocess.Popen[bytes]) -> None:
        # The client writes the marker when its steady window (all streams open) begins.
        deadline = time.monotonic() + 200
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if not marker.exists():
            result["error"] = "the profiled run never reached its steady window"
            return
        with spy_log.open("ab") as logf:
            r = subprocess.run([str(spy), "record", "--pid", str(b.app_pid), "--duration", str(duration),
                                "--rate", "200", "--nonblocking", "--format", "raw", "--output", str(out)],
                               stdout=logf, stderr=subprocess.STDOUT, timeout=duration + 30)
            result["py_spy_exit"] = r.returncode
            subprocess.run([str(spy), "record", "--pid", str(b.app_pid), "--duration", "3", "--rate", "200",
                            "--nonblocking", "--format", "flamegraph", "--output", str(svg)],
                           stdout=logf, stderr=subprocess.STDOUT, timeout=40)

    run = b.client(f"profile-{level}", spec, on_window=record)
    result["run"] = run
    if out.exists():
        result.update(report.summarize_profile(out.read_text(encoding="utf-8")))
    else:
        result["error"] = "py-spy wrote no profile: " + spy_log.read_text(errors="replace")[-500:]
    return result


def soft(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Run one figure; a failure is recorded in the results instead of losing the whole run."""
    try:
        return fn(*args, **kwargs)
    except (RuntimeError, subprocess.SubprocessError, TimeoutError, OSError) as exc:
        log(f"  failed: {exc!s:.300}")
        return {"error": f"{type(exc).__name__}: {exc!s:.500}"}


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem / 2**30, 1), "python": platform.python_version(),
            "platform": platform.platform(), "date": time.strftime("%Y-%m-%d %H:%M %Z")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    # The levels (1, 100, 500, 1,000, 2,000) plus a few between, to place a capacity that
    # falls between them; each path stops at its first failing level.
    parser.add_argument("--levels", default="1,25,35,50,100,150,200,300,500,1000,2000")
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--no-scale", action="store_true", help="skip figures 6-8 (Redis, workers, replicas)")
    parser.add_argument("--max-minutes", type=float, default=30.0)
    args = parser.parse_args()
    RAW.mkdir(parents=True, exist_ok=True)
    for f in RAW.glob("*.log"):
        f.unlink()
    levels = [int(x) for x in args.levels.split(",")]
    if args.quick:
        levels = [lv for lv in levels if lv <= 500]
    started = time.monotonic()
    results: dict[str, Any] = {"machine": machine(), "command": "make bench", "quick": args.quick,
                               "litellm_version": LITELLM_VERSION, "loadavg_start": os.getloadavg()}
    b = Bench(args, started)
    # First run: LiteLLM installs in the background while the figures that do not need it run.
    b.start_install()
    log("figure 5: decode cost (bench/decode_bench.py), before any server runs")
    results["fig5"] = figure5_decode()
    try:
        b.start_provider()
        log("figure 9: upstream transports (bench/transport_bench.py)")
        results["fig9"] = soft(figure9_transports, b)
        b.start_relay()
        b.start_app()
        b.start_proxy()
        log("figure 4: time to first visible text per transport")
        results["fig4"] = soft(figure4_visible, b)
        b.procs.stop("proxy")
        log("figures 2 and 3: concurrent streams of 20 tokens/s (direct provider and Assistant Stream)")
        results["fig2"] = figure2_load(b, levels, ["ours", "relay"])
        if not args.no_profile:
            failed = results["fig2"]["first_failed"].get("ours")
            level = failed or levels[-1]
            log(f"profile: py-spy on the app at {level} streams")
            try:
                results["profile"] = profile_app(b, level)
            except (RuntimeError, subprocess.SubprocessError, TimeoutError) as exc:
                results["profile"] = {"error": str(exc)[:500]}
        if not args.no_scale:
            log("figure 6: capacity on Redis + PostgreSQL: 1 worker, 2 workers, 2 replicas")
            scale_levels = [lv for lv in levels if lv >= 100]
            results["fig6"] = soft(figure2_load, b, scale_levels, ["ours-redis-1w", "ours-redis-2w", "ours-2-replicas"],
                                   {"levels": scale_levels, "runs": {"direct": results["fig2"]["runs"]["direct"]},
                                    "first_failed": {"direct": None},
                                    "criterion": f"p99 per-chunk latency <= {P99_LIMIT_MS:g} ms and no errors"})
            log("figure 7: time to resume on the other replica")
            results["fig7"] = soft(figure7_resume, b)
            log("figure 8: Redis's cost per chunk (PostgreSQL with and without Redis, one worker)")
            results["fig8"] = soft(figure8_redis_cost, b, 100 if args.quick else 200)
        log("starting LiteLLM (about 20 s)")
        b.start_litellm()
        b.litellm_ready = b.litellm_missing is None
        results["litellm_missing"] = b.litellm_missing
        results["litellm_install"] = b.install_note
        if b.litellm_missing:
            log(f"LiteLLM figures missing: {b.litellm_missing}")
        b.start_app()
        log("figure 1: time to first token, single stream")
        results["fig1"] = soft(figure1_ttft, b)
        if b.litellm_ready:
            log("figure 4: LiteLLM")
            extra = soft(figure4_visible, b, litellm_only=True)
            if "transports" in extra and "transports" in results["fig4"]:
                results["fig4"]["transports"].update(extra["transports"])
            log("figures 2 and 3: LiteLLM")
            results["fig2"] = figure2_load(b, levels, ["litellm"], results["fig2"])
    finally:
        b.procs.stop_all()
        b.services.stop()
        if b.installer is not None:
            b.installer.kill()
            b.installer.wait(5)
        shutil.rmtree(b.work, ignore_errors=True)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    results["uptime_end"] = Path("/proc/loadavg").read_text().strip() if Path("/proc/loadavg").exists() else ""
    results["loadavg_end"] = os.getloadavg()
    (RESULTS / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    report.write_all(results, RESULTS, ROOT / "docs" / "performance.md")
    log(f"done in {results['elapsed_s']:.0f} s: bench/results/results.md, docs/performance.md")


if __name__ == "__main__":
    main()
