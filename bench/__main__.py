"""`make bench` (quick profile) and `make bench-full`: start the stack from scratch, run the scenarios,
tear everything down, write bench/results/<timestamp>.json and regenerate docs/benchmarks.md.

    python -m bench --profile quick|full [--only S1,S3,...] [--no-report] [--keep-data]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


@dataclass
class Context:
    profile: dict[str, Any]
    stack: Any
    started: float = field(default_factory=time.time)

    def log(self, text: str) -> None:
        print(f"[{time.time() - self.started:7.1f}s] {text}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--profile", choices=["quick", "full"], default="quick")
    parser.add_argument("--only", default="", help="comma-separated scenario ids (default: all)")
    parser.add_argument("--set", action="append", default=[], help="override a profile value: S1.levels=[500]")
    parser.add_argument("--no-report", action="store_true", help="do not regenerate docs/benchmarks.md")
    parser.add_argument("--keep-data", action="store_true", help="keep .data/bench/<run> after the run")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))

    from bench.profiles import PROFILES
    from bench.stack import Stack, machine_info, raise_nofile

    profile = copy.deepcopy(PROFILES[args.profile])
    for item in args.set:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        profile[section][name] = json.loads(value)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    nofile = raise_nofile()
    cpus = sorted(os.sched_getaffinity(0))
    web_cpus = {cpus[0]} if len(cpus) >= 2 else None
    client_cpus = {cpus[-1]} if len(cpus) >= 2 else None
    stack = Stack(run_dir=ROOT / ".data" / "bench" / stamp, web_cpus=web_cpus, client_cpus=client_cpus)
    ctx = Context(profile=profile, stack=stack)
    results: dict[str, Any] = {
        "profile": args.profile,
        "timestamp": stamp,
        "machine": machine_info(),
        "placement": {
            "web_cpus": sorted(web_cpus or []),
            "loadgen_cpus": sorted(client_cpus or []),
            "others": "unpinned (PostgreSQL, Valkey, Celery workers, fake LLM)",
        },
        "nofile": list(nofile),
        "profile_values": profile,
        "scenarios": {},
    }
    wanted = {s.strip() for s in args.only.split(",") if s.strip()}
    code = 0
    try:
        ctx.log(f"bench {args.profile}: starting embedded PostgreSQL and Valkey under {stack.run_dir}")
        stack.start_services()  # started before pinning ourselves: they inherit every core
        if client_cpus:
            os.sched_setaffinity(0, client_cpus)
        stack.manage("migrate", "--no-input", "-v", "0")
        os.environ.update({key: stack.env[key] for key in ("DATABASE_URL", "REDIS_URL")})
        os.environ.update(DJANGO_SETTINGS_MODULE="bench.settings", DATABASE_POOL="false")
        import django

        django.setup()
        stack.start_fake()
        from bench.registry import load_all

        for sid, spec in load_all().items():
            if wanted and sid not in wanted:
                continue
            if spec.run is None:
                results["scenarios"][sid] = {"title": spec.title, "pending": spec.pending}
                continue
            ctx.log(f"{sid}: {spec.title}")
            t0 = time.time()
            try:
                out = spec.run(ctx)
            except Exception as error:  # noqa: BLE001 - one scenario's failure must not lose the rest
                ctx.log(f"{sid} FAILED: {error!r}")
                traceback.print_exc()
                out = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()[-3000:]}
                code = 1
            out["title"] = spec.title
            out["seconds"] = round(time.time() - t0, 1)
            results["scenarios"][sid] = out
            ctx.log(f"{sid} done in {out['seconds']} s")
    finally:
        ctx.log("tearing down")
        stack.stop()
        logs_dir = ROOT / ".data" / "bench" / "last-logs"
        if not args.keep_data:
            stack.cleanup(keep_logs=logs_dir)
        results["wall_seconds"] = round(time.time() - ctx.started, 1)
        results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
        RESULTS.mkdir(parents=True, exist_ok=True)
        out_path = RESULTS / f"{stamp}.json"
        out_path.write_text(json.dumps(results, indent=1, default=str))
        ctx.log(f"results: {out_path.relative_to(ROOT)} (server logs: {logs_dir.relative_to(ROOT)})")
    if not args.no_report:
        from bench.report import write_report

        write_report(results)
        ctx.log("wrote docs/benchmarks.md and docs/benchmarks/*.png")
    ctx.log(f"total {results['wall_seconds']} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
