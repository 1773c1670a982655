"""Turns bench/results/results.json into the Markdown table, the PNG plots and docs/performance.md."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

NAMES = {"direct": "provider (direct)", "relay": "minimal relay (raw asyncio)", "ours": "Assistant Stream",
         "litellm": "LiteLLM 1.106.2", "ours-pg": "Assistant Stream, PostgreSQL, 1 worker",
         "ours-redis-1w": "Assistant Stream, Redis + PostgreSQL, 1 worker",
         "ours-redis-2w": "Assistant Stream, Redis + PostgreSQL, 2 workers",
         "ours-2-replicas": "Assistant Stream, Redis + PostgreSQL, 2 replicas"}
MISSING = "n/a"
PROFILE_AREAS = [  # (area, substrings of the frame's file), first match wins
    ("Assistant Stream: providers/transport.py + response.py (upstream read loop)",
     ("assistant_stream/providers/transport.py", "assistant_stream/providers/response.py")),
    ("Assistant Stream: providers/sse.py + chunks.py (decode)",
     ("assistant_stream/providers/sse.py", "assistant_stream/providers/chunks.py")),
    ("Assistant Stream: chat/ generations (runner, manager, persistence)",
     ("assistant_stream/chat/runner.py", "assistant_stream/chat/manager.py", "assistant_stream/chat/persistence.py")),
    ("Assistant Stream: chat/eventlog.py + delivery.py",
     ("assistant_stream/chat/eventlog.py", "assistant_stream/chat/delivery.py")),
    ("Assistant Stream: web/api_stream.py + wire.py (SSE writer)",
     ("assistant_stream/web/api_stream.py", "assistant_stream/web/wire.py")),
    ("Assistant Stream: store/ (event logs, coordination, database, Redis)", ("assistant_stream/store/",)),
    ("Assistant Stream: other", ("assistant_stream/",)),
    ("httpx / httpcore (upstream HTTP client)", ("httpx/", "httpcore/", "h11/", "httpx_aiohttp/")),
    ("aiohttp (upstream connections)", ("aiohttp/", "multidict", "yarl")),
    ("redis-py", ("redis/",)),
    ("anyio (httpcore's and Starlette's I/O layer)", ("anyio/",)),
    ("Starlette / FastAPI (StreamingResponse)", ("starlette/", "fastapi/")),
    ("uvicorn (HTTP server, httptools)", ("uvicorn/", "httptools")),
    ("SQLAlchemy / aiosqlite / sqlite3", ("sqlalchemy/", "aiosqlite/", "sqlite3")),
    ("logging", ("logging/",)),
    ("asyncio event loop", ("asyncio/", "uvloop")),
    ("json / orjson", ("json/", "orjson")),
]


# --- helpers ----------------------------------------------------------------------------------------------


def fmt(v: float | None, digits: int = 1) -> str:
    if v is None:
        return MISSING
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return MISSING
    r = a / b
    if r < 0.01:
        return "<0.01x"
    return f"{r:.1f}x" if r >= 0.95 else f"{r:.2f}x"


def pq(q: dict[str, Any] | None, digits: int = 1) -> str:
    """'p50 / p99' of a quantile dict."""
    if not q or q.get("p50") is None:
        return MISSING
    return f"{fmt(q['p50'], digits)} / {fmt(q['p99'], digits)}"


def quantiles(values: list[float], scale: float = 1.0) -> dict[str, float | None]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from client import quantiles as q

    return q(values, scale)


# --- profile ----------------------------------------------------------------------------------------------

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _split_frame(frame: str) -> tuple[str, str]:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip(), ""
    return m.group("func"), m.group("file")


def summarize_profile(raw: str, top: int = 18) -> dict[str, Any]:
    """py-spy ``--format raw`` (collapsed stacks) -> shares of samples by area, by function (self and
    inclusive), main thread only (aiosqlite's worker threads are reported as one share)."""
    main_total = other_total = 0
    self_fn: Counter[str] = Counter()
    incl_fn: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        frames = stack.split(";")
        if not frames or "Thread._bootstrap" in frames[0]:
            other_total += count
            continue
        main_total += count
        parsed = [_split_frame(f) for f in frames]
        func, file = parsed[-1]
        self_fn[f"{func} ({file})"] += count
        # Area: the innermost frame that belongs to a known area (C code shows up as its caller).
        area = "other"
        for f_func, f_file in reversed(parsed):
            key = f"{f_file} {f_func}"
            hit = next((name for name, subs in PROFILE_AREAS if any(s in key for s in subs)), None)
            if hit:
                area = hit
                break
        areas[area] += count
        seen = set()
        for f_func, f_file in parsed:
            name = f"{f_func} ({f_file})"
            if name not in seen:
                seen.add(name)
                incl_fn[name] += count
    total = main_total or 1

    def pct(c: int) -> float:
        return round(100 * c / total, 1)

    skip = ("runpy", "__main__.py", "uvicorn/main.py", "uvicorn/server.py", "uvicorn/_compat.py",
            "asyncio/runners.py", "asyncio/base_events.py", "asyncio/events.py")
    inclusive = [(n, pct(c)) for n, c in incl_fn.most_common(200) if not any(s in n for s in skip)][:top]
    return {"samples_main_thread": main_total, "samples_other_threads": other_total,
            "areas_pct": [(a, pct(c)) for a, c in areas.most_common()],
            "self_pct": [(n, pct(c)) for n, c in self_fn.most_common(top)],
            "inclusive_pct": inclusive}


# --- tables -----------------------------------------------------------------------------------------------


def table_fig1(r: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    samples = r["samples_s"]
    direct = samples.get("direct") or []
    base = quantiles(direct)["p50"] if direct else None
    added: dict[str, dict[str, Any]] = {}
    for k, v in samples.items():
        if k != "direct" and v and base is not None:
            added[k] = quantiles([x - base for x in v], 1000)
    rows = ["| path | TTFT p50 / p99 (ms) | added p50 / p99 (ms) | TTFT ratio to direct (p50 / p99) "
            "| added ratio to the minimal relay (p50 / p99) | added ratio to LiteLLM (p50 / p99) | errors |",
            "|---|---|---|---|---|---|---|"]
    t = r["ttft_ms"]
    lite, relay = added.get("litellm"), added.get("relay")
    for k in [k for k in NAMES if k in t]:
        a = added.get(k)
        to_direct = (f"{ratio(t[k]['p50'], t['direct']['p50'])} / {ratio(t[k]['p99'], t['direct']['p99'])}"
                     if k != "direct" else "1x")
        to_relay = (f"{ratio(a['p50'], relay['p50'])} / {ratio(a['p99'], relay['p99'])}"
                    if a and relay and k != "relay" else ("1x" if k == "relay" else "—"))
        to_lite = (f"{ratio(a['p50'], lite['p50'])} / {ratio(a['p99'], lite['p99'])}"
                   if a and lite and k != "litellm" else ("1x" if k == "litellm" else "—"))
        rows.append(f"| {NAMES[k]} | {pq(t[k], 2)} | {pq(a, 2) if a else '—'} | {to_direct} | {to_relay} | {to_lite} "
                    f"| {r['error_counts'].get(k, 0)} |")
    return "\n".join(rows), added


def _run_at(runs: list[dict[str, Any]], level: int) -> dict[str, Any] | None:
    return next((x for x in runs if x["streams"] == level), None)


def _lat(x: dict[str, Any] | None) -> str:
    if x is None:
        return "—"
    if x.get("harness_error"):
        return "harness error"
    s = pq(x["latency_ms"], 1)
    return s if x["passed"] else f"**{s}** ✗"


def _q(x: dict[str, Any] | None, p: str) -> float | None:
    return None if x is None or x.get("harness_error") else x["latency_ms"].get(p)


def why_failed(x: dict[str, Any]) -> str:
    if x.get("harness_error"):
        return "harness error: " + x["harness_error"][:120]
    if x["passed"]:
        return ""
    reasons = []
    if not x.get("all_opened", True):
        reasons.append(f"not all streams had their first token within {x.get('open_budget_s', 30):g} s")
    if x["errors"]:
        reasons.append(f"{x['errors']} stream errors ({'; '.join(x.get('error_samples', [])[:2])})")
    p99 = x["latency_ms"].get("p99")
    if p99 is not None and p99 > 100:
        reasons.append(f"p99 {fmt(p99)} ms > 100 ms")
    return "; ".join(reasons)


def table_fig2(r: dict[str, Any], ours: str = "ours") -> str:
    runs = r["runs"]
    kinds = [k for k in NAMES if k in runs]
    rows = ["| streams | " + " | ".join(f"{NAMES[k]} p50 / p99 (ms)" for k in kinds)
            + " | ours ratio to direct (p50 / p99) | ours added delay ratio to the minimal relay's (p50 / p99) "
            "| ours added delay ratio to LiteLLM's (p50 / p99) |", "|---" * (len(kinds) + 4) + "|"]
    for level in r["levels"]:
        at = {k: _run_at(runs.get(k, []), level) for k in kinds}
        if not any(at.values()):
            continue
        d, o, li, re_ = at.get("direct"), at.get(ours), at.get("litellm"), at.get("relay")
        to_d = f"{ratio(_q(o, 'p50'), _q(d, 'p50'))} / {ratio(_q(o, 'p99'), _q(d, 'p99'))}" if o and d else "—"

        def added(x: dict[str, Any] | None, p: str, d: dict[str, Any] | None = d) -> float | None:
            a, b = _q(x, p), _q(d, p)
            return None if a is None or b is None else max(a - b, 0.001)

        def to(x: dict[str, Any] | None, o: dict[str, Any] | None = o) -> str:
            return (f"{ratio(added(o, 'p50'), added(x, 'p50'))} / {ratio(added(o, 'p99'), added(x, 'p99'))}"
                    if o and x else "—")

        rows.append(f"| {level:,} | " + " | ".join(_lat(at[k]) for k in kinds) + f" | {to_d} | {to(re_)} | {to(li)} |")
    return "\n".join(rows)


def _retried(x: dict[str, Any]) -> str:
    d = x.get("disturbed_attempt")
    if not d:
        return ""
    return (f" (second attempt: the first, with other processes at {fmt(d.get('other_cpu_util'), 2)} cores, "
            f"had p50 / p99 {pq(d.get('latency_ms'), 1)} ms and {d.get('errors')} errors)")


def table_fig2_detail(r: dict[str, Any]) -> str:
    rows = ["| path | streams | time to open all (s) | TTFT under load p50 / p99 (ms) | chunks per event "
            "| relay CPU (cores) | provider / client / other processes' CPU (cores) | errors | failed because |",
            "|---|---|---|---|---|---|---|---|---|"]
    for kind in [k for k in NAMES if k != "direct"] + ["direct"]:
        for x in r["runs"].get(kind, []):
            if x.get("harness_error"):
                rows.append(f"| {NAMES[kind]} | {x['streams']:,} | — | — | — | — | — | — | {why_failed(x)} |")
                continue
            cpu = f"{fmt(x.get('target_cpu_util'), 2)}" if kind != "direct" else "—"
            if x.get("watched_cpu_util"):
                cpu += " (" + ", ".join(f"{n} {fmt(v, 2)}" for n, v in x["watched_cpu_util"].items()) + ")"
            rows.append(
                f"| {NAMES[kind]} | {x['streams']:,} | {fmt(x.get('open_s'), 1)} "
                f"| {pq(x.get('ttft_under_load_ms'), 0)} "
                f"| {fmt(x.get('chunks_per_event'), 2)} | {cpu} | {fmt(x.get('provider_cpu_util'), 2)} / "
                f"{fmt(x.get('client_cpu_util'), 2)} / {fmt(x.get('other_cpu_util'), 2)} | {x['errors']} "
                f"| {why_failed(x) or 'passed'}{_retried(x)} |")
    return "\n".join(rows)


def table_fig3(r: dict[str, Any]) -> str:
    runs = r["runs"]
    rows = ["| streams | RSS growth per open stream, ours (KB) | of which per-stream, without the answer's history "
            "(KB) | per relayed chunk (bytes) | LiteLLM per open stream (KB) | ours ratio to LiteLLM "
            "| CPU per relayed chunk, ours (µs) | LiteLLM (µs) | minimal relay (µs) | provider's own (µs per chunk "
            "emitted) | ours ratio to provider / to the minimal relay / to LiteLLM |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for level in r["levels"]:
        d, o, li, re_ = (_run_at(runs.get(k, []), level) for k in ("direct", "ours", "litellm", "relay"))
        if o is None or o.get("harness_error"):
            continue

        def g(x: dict[str, Any] | None, k: str) -> float | None:
            return None if x is None or x.get("harness_error") else x.get(k)

        mem_o, mem_l = g(o, "rss_growth_kb_per_stream"), g(li, "rss_growth_kb_per_stream")
        if mem_l is not None and mem_l <= 0:
            mem_l = None  # LiteLLM is not restarted: its RSS can fall when it reuses memory freed earlier
        cpu_o, cpu_l, cpu_d, cpu_r = (g(o, "target_cpu_us_per_chunk"), g(li, "target_cpu_us_per_chunk"),
                                      g(d, "target_cpu_us_per_chunk"), g(re_, "target_cpu_us_per_chunk"))
        note = " (1 stream: fixed costs dominate)" if level == 1 else ""
        hist = "—" if level < 100 else fmt(g(o, "rss_kb_per_stream_without_history"))
        per_chunk = "—" if level < 100 else fmt(g(o, "rss_bytes_per_chunk"), 0)
        rows.append(f"| {level:,}{note} | {fmt(mem_o)} (at ~{o.get('chunks_per_stream_at_peak')} chunks) | {hist} "
                    f"| {per_chunk} | {fmt(mem_l)} | {ratio(mem_o, mem_l)} | {fmt(cpu_o)} "
                    f"| {fmt(cpu_l)} | {fmt(cpu_r)} | {fmt(cpu_d)} | {ratio(cpu_o, cpu_d)} / {ratio(cpu_o, cpu_r)} "
                    f"/ {ratio(cpu_o, cpu_l)} |")
    return "\n".join(rows)


def table_fig4(r: dict[str, Any]) -> str:
    tr = r["transports"]
    base = tr.get("provider SSE (direct)", {}).get("first_visible_ms", {})
    lite = tr.get("LiteLLM SSE (direct)", {}).get("first_visible_ms", {})
    rows = ["| transport | first visible text p50 / p99 (ms) | ratio to provider direct (p50) "
            "| ratio to LiteLLM SSE (p50) | every chunk's delay p50 / p99 (ms) | errors |",
            "|---|---|---|---|---|---|"]
    for name, v in tr.items():
        fv = v["first_visible_ms"]
        rows.append(f"| {name} | {pq(fv, 1)} | {ratio(fv.get('p50'), base.get('p50'))} "
                    f"| {ratio(fv.get('p50'), lite.get('p50')) if lite else MISSING} | {pq(v['per_chunk_ms'], 1)} "
                    f"| {v['errors']} |")
    return "\n".join(rows)


def table_fig5(r: dict[str, Any]) -> str:
    return "\n".join([
        "| decoder, same 10,000-chunk stream | one read per event (µs/chunk) | 1,400-byte reads (µs/chunk) |",
        "|---|---|---|",
        f"| Assistant Stream (providers/sse.py + chunks.py, orjson) | {r['ours_us_per_chunk']} "
        f"| {r['ours_us_per_chunk_1400B_reads']} |",
        f"| Assistant Stream with stdlib json | {r['ours_stdlib_json_us_per_chunk']} | — |",
        f"| openai-python {r['openai_version']} SSEDecoder + json.loads | {r['openai_us_per_chunk']} "
        f"| {r['openai_us_per_chunk_1400B_reads']} |",
        f"| ratio ours / openai-python | {r['ratio']}x | {r['ratio_1400B_reads']}x |",
    ])


def table_fig6(r: dict[str, Any]) -> str:
    runs = r["runs"]
    kinds = [k for k in ("ours-redis-1w", "ours-redis-2w", "ours-2-replicas") if k in runs]
    rows = ["| streams | provider direct p50 / p99 (ms) | " + " | ".join(f"{NAMES[k]}: p50 / p99 (ms), app CPU "
                                                                     "(cores), µs per chunk" for k in kinds) + " |",
            "|---" * (len(kinds) + 2) + "|"]
    for level in r["levels"]:
        at = {k: _run_at(runs.get(k, []), level) for k in kinds}
        if not any(at.values()):
            continue
        cells = []
        for k in kinds:
            x = at[k]
            if x is None or x.get("harness_error"):
                cells.append(_lat(x))
                continue
            redis = (x.get("watched_cpu_us_per_chunk") or {}).get("redis-server")
            cells.append(f"{_lat(x)}, {fmt(x.get('target_cpu_util'), 2)}, {fmt(x.get('target_cpu_us_per_chunk'))}"
                         + (f" (+ Redis {fmt(redis)})" if redis is not None else ""))
        rows.append(f"| {level:,} | {_lat(_run_at(runs.get('direct', []), level))} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def table_fig7(r: dict[str, Any]) -> str:
    return "\n".join(["| answers | time to resume on the other replica p50 / p90 / p99 (ms) | chunks lost or doubled |",
                      "|---|---|---|",
                      f"| {r['rounds']} | {fmt(r['resume_ms'].get('p50'), 1)} / {fmt(r['resume_ms'].get('p90'), 1)} / "
                      f"{fmt(r['resume_ms'].get('p99'), 1)} | {r['errors']} answers"
                      + (f" ({'; '.join(r['error_samples'][:2])})" if r["errors"] else "") + " |"])


def _median(xs: list[float]) -> float | None:
    xs = sorted(x for x in xs if x is not None)
    return xs[len(xs) // 2] if xs else None


def table_fig8(r: dict[str, Any]) -> tuple[str, dict[str, float | None]]:
    pg = [x.get("target_cpu_us_per_chunk") for x in r["runs"].get("ours-pg", []) if not x.get("harness_error")]
    rd = [x.get("target_cpu_us_per_chunk") for x in r["runs"].get("ours-redis-1w", []) if not x.get("harness_error")]
    srv = [(x.get("watched_cpu_us_per_chunk") or {}).get("redis-server")
           for x in r["runs"].get("ours-redis-1w", []) if not x.get("harness_error")]
    m_pg, m_rd, m_srv = _median(pg), _median(rd), _median(srv)
    added = None if m_pg is None or m_rd is None else m_rd - m_pg
    rows = ["| one worker, PostgreSQL, streams | app µs per chunk without Redis (runs) | with Redis (runs) "
            "| added in the app (median) | redis-server µs per chunk (median) |", "|---|---|---|---|---|",
            f"| {r['streams']:,} | {', '.join(fmt(x) for x in pg)} | {', '.join(fmt(x) for x in rd)} | {fmt(added)} "
            f"| {fmt(m_srv)} |"]
    return "\n".join(rows), {"app": added, "redis": m_srv}


def table_fig9(r: dict[str, Any]) -> str:
    med = {v: _median([x.get("us_per_chunk") for x in runs if "us_per_chunk" in x])
           for v, runs in r["variants"].items()}
    raw, hx = med.get("raw"), med.get("httpx")
    rows = ["| upstream client | µs of CPU per chunk received (runs) | ratio to raw asyncio | ratio to httpx default |",
            "|---|---|---|---|"]
    for v, runs in r["variants"].items():
        vals = ", ".join(fmt(x.get("us_per_chunk")) if "us_per_chunk" in x else "error" for x in runs)
        rows.append(f"| {v} | {vals} | {ratio(med[v], raw)} | {ratio(med[v], hx)} |")
    return "\n".join(rows)


# --- plots ------------------------------------------------------------------------------------------------


def plot_latency(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    colors = {"direct": "tab:gray", "ours": "tab:blue", "litellm": "tab:orange", "relay": "tab:green",
              "ours-redis-1w": "tab:purple", "ours-redis-2w": "tab:red", "ours-2-replicas": "tab:brown",
              "ours-pg": "tab:olive"}
    for kind, runs in r["runs"].items():
        pts = [x for x in runs if not x.get("harness_error") and x["latency_ms"].get("p50") is not None]
        if not pts:
            continue
        xs = [x["streams"] for x in pts]
        ax.plot(xs, [x["latency_ms"]["p99"] for x in pts], "-o", color=colors[kind], label=f"{NAMES[kind]} p99")
        ax.plot(xs, [x["latency_ms"]["p50"] for x in pts], "--", color=colors[kind], alpha=0.7,
                label=f"{NAMES[kind]} p50")
        bad = [x for x in pts if not x["passed"]]
        if bad:
            ax.plot([x["streams"] for x in bad], [x["latency_ms"]["p99"] for x in bad], "x", color="red",
                    markersize=12, mew=2)
    ax.axhline(100, color="red", lw=0.8, ls=":", label="100 ms criterion")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("concurrent streams (20 tokens/s each)")
    ax.set_ylabel("per-chunk delay, provider -> client (ms)")
    ax.set_title("Per-chunk latency vs concurrent streams (red x: failed criterion)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_visible(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tr = [(n, v["first_visible_ms"]) for n, v in r["transports"].items() if v["first_visible_ms"].get("p50")]
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(tr) + 1.5), dpi=110)
    ys = list(range(len(tr)))
    p50 = [max(q["p50"], 0.01) for _, q in tr]
    p99 = [max(q["p99"], 0.01) for _, q in tr]
    ax.barh(ys, p50, color="tab:blue", alpha=0.8, label="p50")
    ax.plot(p99, ys, "k|", markersize=18, mew=2, label="p99")
    for y, v, w in zip(ys, p50, p99, strict=True):
        ax.text(max(v, w) * 1.25, y, f"p50 {v:,.1f} ms", va="center", fontsize=8)
    ax.set_yticks(ys, [n for n, _ in tr], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(right=max(p99 + p50) * 8)
    ax.set_xlabel("provider's first token -> first text the client sees (ms, log scale)")
    ax.set_title("Time to first visible text per transport")
    ax.grid(True, axis="x", which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# --- documents --------------------------------------------------------------------------------------------


def verdicts(res: dict[str, Any], added: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(target, measured, met / not met)."""
    out: list[tuple[str, str, str]] = []
    ours, lite = added.get("ours"), added.get("litellm")
    if ours:
        out.append(("added time to first token p50 <= 2 ms", f"{fmt(ours['p50'], 2)} ms",
                    "met" if ours["p50"] <= 2 else "**not met**"))
        if lite:
            ok = ours["p50"] <= lite["p50"] / 3
            out.append(("... and <= 1/3 of LiteLLM's", f"{fmt(ours['p50'], 2)} vs {fmt(lite['p50'], 2)} ms "
                        f"({ratio(ours['p50'], lite['p50'])})", "met" if ok else "**not met**"))
        else:
            out.append(("... and <= 1/3 of LiteLLM's", "LiteLLM missing", "not measured"))
    f2 = res.get("fig2")
    if f2:
        cap = f2["capacity"]
        top = max(f2["levels"])
        c_o, c_l = cap.get("ours", 0), cap.get("litellm")
        ceiling = " (highest level tried)" if c_o == top else ""
        fo = f2["first_failed"].get("ours")
        out.append(("capacity >= 1,000 streams of 20 tokens/s on one worker",
                    f"{c_o:,} streams{ceiling}" + (f" (fails at {fo:,})" if fo else ""),
                    "met" if c_o >= 1000 else "**not met**"))
        if c_l is not None:
            # Capacities are only known between levels: each lies below that path's first failing level.
            f_l, f_o = f2["first_failed"].get("litellm"), f2["first_failed"].get("ours")
            low = c_o / f_l if f_l else None  # ours at least c_o, LiteLLM below f_l
            high = (f_o / c_l) if (f_o and c_l) else None  # ours below f_o, LiteLLM at least c_l
            rng = (f"between {low:.1f}x and {high:.1f}x" if low is not None and high is not None
                   else f"at least {low:.1f}x" if low is not None else ratio(c_o, c_l))
            text = (f"{c_o:,}{f' (fails at {f_o:,})' if f_o else ''} vs {c_l:,}"
                    f"{f' (fails at {f_l:,})' if f_l else ''}: {rng}")
            if low is not None and low >= 3:
                verdict = "met"
            elif (high is not None and high < 3) or (not f_l and c_l and c_o < 3 * c_l):
                verdict = "**not met**"
            else:
                verdict = "not determined at these levels"
            out.append(("... and >= 3x LiteLLM's (same criterion)", text, verdict))
        else:
            out.append(("... and >= 3x LiteLLM's", "LiteLLM missing", "not measured"))
        cpu_runs = [x for x in f2["runs"].get("ours", []) if x["streams"] >= 100 and not x.get("harness_error")
                    and x.get("target_cpu_us_per_chunk")]
        if cpu_runs:
            best = min(cpu_runs, key=lambda x: x["target_cpu_us_per_chunk"])
            relay = {x["streams"]: x.get("target_cpu_us_per_chunk") for x in f2["runs"].get("relay", [])}
            rr = relay.get(best["streams"])
            out.append(("CPU per relayed chunk <= 50 µs",
                        f"{fmt(best['target_cpu_us_per_chunk'])} µs at {best['streams']:,} streams"
                        + (f" (minimal relay {fmt(rr)} µs, {ratio(best['target_cpu_us_per_chunk'], rr)})"
                           if rr else ""),
                        "met" if best["target_cpu_us_per_chunk"] <= 50 else "**not met**"))
        f6 = res.get("fig6") or {}
        if f6.get("capacity"):
            c = f6["capacity"]
            out.append(("capacity with Redis + PostgreSQL: 1 worker / 2 workers / 2 replicas",
                        " / ".join(f"{c.get(k, 0):,}" for k in ("ours-redis-1w", "ours-redis-2w", "ours-2-replicas")),
                        "measured"))
        mem_runs = [x for x in f2["runs"].get("ours", []) if x["streams"] >= 100 and not x.get("harness_error")]
        if mem_runs:
            # At the capacity level when it is >= 100 streams (a failing level's memory is inflated by
            # backlog), else the largest level measured.
            passed = [x for x in mem_runs if x["passed"]]
            at = max(passed or mem_runs, key=lambda x: x["streams"])
            kb = at["rss_growth_kb_per_stream"]
            others = ", ".join(f"{x['rss_growth_kb_per_stream']:.0f} KB at {x['streams']:,}" for x in mem_runs
                               if x is not at)
            out.append(("memory <= 64 KB per open stream",
                        f"{fmt(kb)} KB at {at['streams']:,} streams, about {at['chunks_per_stream_at_peak']} chunks "
                        f"into each answer" + (f" ({others})" if others else ""),
                        "met" if kb <= 64 else "**not met**"))
    return out


def profile_md(p: dict[str, Any] | None) -> str:
    if not p:
        return "No profile was taken (`--no-profile`)."
    if p.get("error") and not p.get("areas_pct"):
        return f"No profile: {p['error']}"
    run = p.get("run", {})
    lines = [f"py-spy {p.get('rate_hz', 200)} Hz, non-blocking, {p.get('duration_s')} s while the app relayed "
             f"{p['streams']:,} streams (app CPU {fmt(run.get('target_cpu_util'), 2)} cores, per-chunk p99 "
             f"{fmt((run.get('latency_ms') or {}).get('p99'))} ms in that run). Main (event loop) thread: "
             f"{p['samples_main_thread']:,} active samples; aiosqlite worker threads: {p['samples_other_threads']:,}.",
             "Flame graph of 3 s of the same run: [profile_flamegraph.svg](../bench/results/profile_flamegraph.svg).",
             "", "Where the event loop's time goes, by the innermost frame of a known component:", "",
             "| component | share of active samples |", "|---|---|"]
    lines += [f"| {a} | {v}% |" for a, v in p["areas_pct"]]
    lines += ["", "Functions, inclusive (the time spent in them and what they call):", "",
              "| function (file) | inclusive % |", "|---|---|"]
    lines += [f"| `{n}` | {v}% |" for n, v in p["inclusive_pct"]]
    lines += ["", "Functions, self time (where the CPU actually is):", "", "| function (file) | self % |", "|---|---|"]
    lines += [f"| `{n}` | {v}% |" for n, v in p["self_pct"]]
    return "\n".join(lines)


def results_md(res: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    parts: list[str] = []
    added: dict[str, Any] = {}
    if res.get("litellm_install"):
        parts.append(f"Note: {res['litellm_install']}, while figures 4 and 5, the Assistant Stream levels of "
                     "figure 2 and the profile ran; pip's CPU use shows in the 'other processes' column.\n")
    if res.get("litellm_missing"):
        parts.append(f"**LiteLLM figures are missing**: {res['litellm_missing']}. No LiteLLM number below is "
                     "estimated; its columns say n/a.\n")
    for key, title in (("fig1", "1. Added time to first token"), ("fig4", "4. First visible text")):
        if "error" in res.get(key, {}):
            parts += [f"### {title}", f"Not measured in this run: {res[key]['error']}", ""]
    if "fig1" in res and "ttft_ms" in res["fig1"]:
        t1, added = table_fig1(res["fig1"])
        n = res["fig1"]["ttft_ms"].get("ours", {}).get("n", 0)
        parts += ["### 1. Added time to first token, single stream",
                  f"{n} sequential streams per path, paths interleaved; TTFT = request sent (new connection) -> "
                  "first token received; provider answers at once. Added = TTFT minus the direct provider's p50. "
                  "For Assistant Stream the request is `GET /chat/stream` (which starts the generation: database "
                  "writes, then the upstream request); creating the session and message is not counted.", "", t1, ""]
    if "fig2" in res:
        f2 = res["fig2"]
        cap = ", ".join(f"{NAMES[k]} {v:,}" if k != "direct" or f2["first_failed"].get("direct")
                        else f"{NAMES[k]} >= {v:,} (the baseline is run only as far as a relay goes)"
                        for k, v in f2["capacity"].items())
        parts += ["### 2. Added delay per chunk vs concurrent streams (20 tokens/s each)",
                  "Per chunk: arrival at the client minus the provider's timestamp inside the chunk, for chunks that "
                  "left the provider during the steady window (all streams open). Levels escalate until a path "
                  f"fails ({f2['criterion']}; ✗ marks the failing level). **Capacity: {cap}.**", "", table_fig2(f2),
                  "", "Per level: how long opening took, what each process used, why a level failed. Other "
                  "processes' CPU is everything else running on the machine during the window.", "",
                  table_fig2_detail(f2), ""]
        parts += ["### 3. Memory per open stream and CPU per relayed chunk",
                  "Memory: RSS growth of the relay process from just before the streams opened to the peak during "
                  "the window, divided by the streams (Assistant Stream is restarted fresh for each level; LiteLLM "
                  "is not, so its later levels reuse memory freed by earlier ones and read low). CPU: the relay "
                  "process's user+system CPU seconds during the window divided by the chunks relayed in it.", "",
                  table_fig3(f2), ""]
    if "fig4" in res and "transports" in res["fig4"]:
        parts += ["### 4. Provider's first token -> first text the client sees",
                  "20 answers per transport, each with a random model think time of 0.2-2.2 s before the first "
                  "token, then 40 tokens at 20/s. The buffering proxy double (bench/proxy.py) reads the app's whole "
                  "response before replying and adds 95 ms per request, modelling the stock AppAPI proxy's measured "
                  "PHP cost (shared notes, nextcloud.md). Assistant-style polling: `GET /chat/generate`, then "
                  "`GET /chat/check_generation` every 2 s, counting the partial `task_output` of each 417 answer "
                  "(the stock Assistant UI shows nothing until the answer is complete, which is later still).",
                  "", table_fig4(res["fig4"]), ""]
    if "fig6" in res and "runs" in res["fig6"]:
        f6 = res["fig6"]
        cap = ", ".join(f"{NAMES[k]} {v:,}" for k, v in f6["capacity"].items() if k != "direct")
        parts += ["### 6. Capacity with Redis and PostgreSQL: 1 worker, 2 workers, 2 replicas",
                  "The same load as figure 2 (20 tokens/s per stream, same criterion), the app on PostgreSQL with "
                  "`REDIS_URL` set: one process with `WORKERS=1`, one with `WORKERS=2` (uvicorn's workers share the "
                  "port; a stream lands on either), and two one-worker replicas with streams alternating between "
                  "them (as a round-robin balancer does). App CPU counts every process of the app; Redis's own CPU "
                  f"per chunk is in brackets. **Capacity: {cap}.**", "", table_fig6(f6), ""]
    elif "fig6" in res:
        parts += ["### 6. Capacity with Redis and PostgreSQL", f"Not measured: {res['fig6'].get('error')}", ""]
    if "fig7" in res and "resume_ms" in res["fig7"]:
        parts += ["### 7. Time to resume on another replica",
                  "Two replicas (Redis + PostgreSQL). Each answer (40 tokens at 20/s) is started and read on "
                  "replica 1 for 5 chunks; the connection is dropped, and 0.3 s later (chunks have piled up meanwhile) "
                  "the client reconnects to replica 2 with `Last-Event-ID`. Time = request sent to replica 2 -> its "
                  "first event (the backlog, read from Redis). Every chunk of every answer "
                  "must arrive exactly once over the two connections.", "", table_fig7(res["fig7"]), ""]
    if "fig8" in res and "runs" in res["fig8"]:
        t8, _ = table_fig8(res["fig8"])
        parts += ["### 8. What Redis costs per chunk",
                  "The same level twice each, interleaved: one worker on PostgreSQL without Redis (in-memory event "
                  "log) and with Redis (event log on Redis Streams, leases, limits). The owner's readers read its "
                  "in-memory copy, so the app's added cost is the batched XADD pipeline; redis-server's own CPU is "
                  "measured on its process.", "", t8, ""]
    if "fig9" in res and "variants" in res["fig9"]:
        f9 = res["fig9"]
        parts += ["### 9. Upstream HTTP client: CPU per chunk received (bench/transport_bench.py)",
                  f"{f9['streams']} concurrent streams of {f9['tokens']} chunks at {f9['rate']:g} tokens/s from the "
                  "load provider, read as the provider client reads them (`aiter_bytes`), one process per variant, "
                  "two rounds. Assistant Stream uses httpx's interface on httpx-aiohttp's transport.", "",
                  table_fig9(f9), ""]
    if "fig5" in res:
        parts += ["### 5. Decode cost per chunk (bench/decode_bench.py)",
                  "CPU time (best of 5 runs) to decode the same 10,000-chunk OpenAI stream to text: the SSE "
                  "decoder plus the chunk JSON parser, ours against openai-python's `SSEDecoder` + `json.loads`.",
                  "",
                  table_fig5(res["fig5"]), ""]
    return "\n".join(parts), added


def write_all(res: dict[str, Any], results_dir: Path, doc: Path) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    body, added = results_md(res)
    plots = []
    if "fig2" in res:
        plot_latency(res["fig2"], results_dir / "latency_vs_streams.png")
        plots.append("latency_vs_streams.png")
    if "fig4" in res and "transports" in res["fig4"]:
        plot_visible(res["fig4"], results_dir / "first_visible.png")
        plots.append("first_visible.png")
    m = res["machine"]
    machine = (f"{m['nproc']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, Python {m['python']}, {m['platform']}; "
               f"run {m['date']}, {res.get('elapsed_s', 0):.0f} s")
    ver = verdicts(res, added)
    vtable = "\n".join(["| target | measured | verdict |", "|---|---|---|"]
                       + [f"| {a} | {b} | {c} |" for a, b, c in ver])
    (results_dir / "results.md").write_text(
        f"# Relay benchmark results\n\n`{res['command']}` on {machine}.\n\n{vtable}\n\n{body}\n"
        + "".join(f"![{p}]({p})\n" for p in plots), encoding="utf-8")
    findings = Path(__file__).with_name("findings.md")
    extra = findings.read_text(encoding="utf-8") if findings.exists() else ""
    doc.write_text(DOC_TEMPLATE.format(
        command=res["command"], machine=machine, verdicts=vtable, body=body,
        plots="\n".join(f"![{p}](../bench/results/{p})" for p in plots),
        profile=profile_md(res.get("profile")), findings=extra), encoding="utf-8")


DOC_TEMPLATE = """# Performance

Produced by `{command}` (bench/run.py, about 25 minutes on the machine below, plus a one-off install
of LiteLLM 1.106.2 into `.venv-litellm` on a new machine) on {machine}. Every number in the tables
comes from that one run; bench/results/ holds the same tables (results.md), the raw numbers
(results.json, and per measurement bench/results/raw/, not committed) and the plots. No test
depends on the benchmark.

## How it is measured
Every party is its own process on 127.0.0.1:
- the **load provider** (bench/provider.py): an OpenAI-compatible streaming server on raw
  asyncio/uvloop emitting N tokens at R tokens/s per stream, each token's text being `<t=UNIX_TIME>`
  stamped right before the chunk is written; its own CPU is reported per level;
- **Assistant Stream**: `python -m assistant_stream`, one uvicorn worker, SQLite, reached with the
  headers AppAPI sends; per stream `PUT /chat/new_session`, `PUT /chat/new_message`, then
  `GET /chat/stream` (which starts the generation); restarted with a new database for each level;
- the **minimal relay anchor** (bench/relay.py): raw asyncio/uvloop, the app's own SSE decoder and orjson,
  one SSE event out per chunk in, nothing else: the floor a Python relay of this design can reach;
- **LiteLLM proxy 1.106.2** in its own venv, one worker, relaying the same provider;
- for figures 6-8, **Redis 7 and PostgreSQL 15 from Debian** on loopback, started as the tests start them;
- the **load client** (bench/client.py): raw asyncio sockets on uvloop, one regular-expression scan
  per socket read; delay per chunk = arrival time minus the stamp inside the chunk, so a browser event
  that merges several chunks is measured chunk by chunk.

Figure 2 escalates 1, 25, 35, 50, 100, 150, 200, 300, 500, 1,000, 2,000 concurrent streams (the issue's levels
plus a few between them) and stops each path at its first failing level. Streams start spread over
`streams/250` s; a level fails if p99 per-chunk delay exceeds 100 ms, a stream errs, or the streams
have not all received their first token within 30 s. The window is 8 s once all streams are open.
A level that fails while other processes took more than 0.25 cores is measured once more; the
per-level table shows both attempts.
Order: figure 5, figure 9, figure 4, figure 2 for the direct provider, Assistant Stream and the minimal
relay, the profile, figures 6, 7 and 8 (Redis and PostgreSQL), then (LiteLLM started) figure 1 with all
paths interleaved, LiteLLM's figure 4 row and LiteLLM's figure 2 levels.
The machine is shared: other sessions' builds and tests ran during this run, and the "other
processes' CPU" column shows how many of the 2 cores they took in each window. Repeated runs on this
machine moved latencies by up to 2x and CPU per chunk by about 10%; ratios within one run are the
robust numbers.

## Targets
{verdicts}

## Results
{body}
{plots}

## Where the time goes (profile)
{profile}

{findings}
"""


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    data = json.loads((here / "results" / "results.json").read_text(encoding="utf-8"))
    write_all(data, here / "results", here.parent / "docs" / "performance.md")
