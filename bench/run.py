"""`make bench`: the relay benchmark. Starts every party as its own process on loopback, runs the
five figures, writes bench/results/ (table, JSON, plots) and docs/performance.md.

Parties: the load provider (bench/provider.py), Assistant Stream (`python -m assistant_stream`, one
uvicorn worker, SQLite, restarted fresh for each load level), LiteLLM proxy 1.106.2 in its own venv
(.venv-litellm) relaying the same provider, the buffering proxy double (bench/proxy.py) and the load
client (bench/client.py, one process per measurement).

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

    # provider
    def start_provider(self) -> None:
        proc = self.procs.start("provider", [PY, str(BENCH / "provider.py"), "--port", str(self.provider_port)],
                                base_env(), RAW / "provider.log")
        wait_http(f"http://127.0.0.1:{self.provider_port}/health", proc, 20, "load provider", RAW / "provider.log")

    @property
    def provider_pid(self) -> int:
        return self.procs.procs["provider"].pid

    # Assistant Stream
    def start_app(self) -> None:
        """A fresh app (new SQLite database): each load level starts from the same state."""
        self.procs.stop("app")
        self.app_runs += 1
        self.app_port = free_port()
        data = self.work / f"app{self.app_runs}"
        env = {**base_env(), "APP_ID": "assistant_stream", "APP_SECRET": APP_SECRET, "APP_VERSION": "1.0.0",
               "APP_HOST": "127.0.0.1", "APP_PORT": str(self.app_port), "APP_PERSISTENT_STORAGE": str(data),
               "NEXTCLOUD_URL": "http://127.0.0.1:9",
               "STREAMING_API_URL": f"http://127.0.0.1:{self.provider_port}/v1", "STREAMING_MODEL": "load",
               "MAX_CONCURRENT_PER_USER": "100000", "MAX_STARTS_PER_MINUTE": "0"}
        proc = self.procs.start("app", [PY, "-m", "assistant_stream"], env, RAW / "app.log")
        wait_http(f"http://127.0.0.1:{self.app_port}/heartbeat", proc, 60, "Assistant Stream", RAW / "app.log")

    @property
    def app_pid(self) -> int:
        return self.procs.procs["app"].pid

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
        if kind == "ours":
            return {"kind": "ours", "host": "127.0.0.1", "port": self.app_port, "secret": APP_SECRET,
                    "users": USERS, "pid": self.app_pid}
        return {"kind": "litellm", "host": "127.0.0.1", "port": self.litellm_port, "api_key": LITELLM_KEY,
                "model": "relay", "pid": self.litellm_pid}

    def kinds(self) -> list[str]:
        return ["direct", "ours"] + (["litellm"] if self.litellm_ready else [])

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


def _level(b: Bench, kind: str, level: int, measure: float) -> dict[str, Any]:
    if kind == "ours":
        b.start_app()
    log(f"figure 2: {kind} at {level} streams")
    try:
        r = b.client(f"fig2-{kind}-{level}", _load_spec(b, kind, level, measure))
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
    runs["direct"].sort(key=lambda r: r["streams"])
    f2["capacity"] = {k: max([r["streams"] for r in v if r["passed"]], default=0) for k, v in runs.items()}
    return f2


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
    parser.add_argument("--max-minutes", type=float, default=9.0)
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
        b.start_app()
        b.start_proxy()
        log("figure 4: time to first visible text per transport")
        results["fig4"] = soft(figure4_visible, b)
        b.procs.stop("proxy")
        log("figures 2 and 3: concurrent streams of 20 tokens/s (direct provider and Assistant Stream)")
        results["fig2"] = figure2_load(b, levels, ["ours"])
        if not args.no_profile:
            failed = results["fig2"]["first_failed"].get("ours")
            level = failed or levels[-1]
            log(f"profile: py-spy on the app at {level} streams")
            try:
                results["profile"] = profile_app(b, level)
            except (RuntimeError, subprocess.SubprocessError, TimeoutError) as exc:
                results["profile"] = {"error": str(exc)[:500]}
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
        if b.installer is not None:
            b.installer.kill()
            b.installer.wait(5)
        shutil.rmtree(b.work, ignore_errors=True)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    results["loadavg_end"] = os.getloadavg()
    (RESULTS / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    report.write_all(results, RESULTS, ROOT / "docs" / "performance.md")
    log(f"done in {results['elapsed_s']:.0f} s: bench/results/results.md, docs/performance.md")


if __name__ == "__main__":
    main()
