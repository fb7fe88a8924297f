"""python -m bench [--subscribers N] [--only NAME...]: run the benchmarks, print the
figures, and write bench/RESULTS.md."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench import cli, importing, latency, render, throughput
from bench.common import SMTPSink, Workspace, machine

RESULTS = Path(__file__).parent / "RESULTS.md"


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--subscribers", type=int, default=100_000,
                        help="digest size for throughput (default 100000)")
    parser.add_argument("--small", type=int, default=10_000,
                        help="the smaller send for the memory comparison (default 10000)")
    parser.add_argument("--concurrency", type=int, default=4, help="threads per worker")
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    parser.add_argument("--database-url", help="e.g. postgresql+psycopg://…/bench (default SQLite)")
    parser.add_argument("--only", nargs="*",
                        choices=["render", "throughput", "latency", "import", "cli"])
    args = parser.parse_args()
    only = set(args.only or ["render", "throughput", "latency", "import", "cli"])
    lines = ["# Benchmark results\n", f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.",
             f"Database: {'SQLite' if not args.database_url else args.database_url.split(':')[0]}; "
             f"broker: the local Redis; `make bench` reproduces this.\n"]

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    if "render" in only:
        space = Workspace()
        settings = space.configure("maildir:/dev/null")
        r = render.run(settings)
        space.cleanup()
        say("## Render cost per recipient\n")
        say(f"Digest of 12 articles, {r['message_bytes']:,} bytes per message.\n")
        say("| way | per recipient |\n| --- | --- |")
        say(f"| compiled once, filled per recipient | {r['fill_us']:.0f} µs |")
        say(f"| naive: Jinja2 + premailer + MIME per recipient | {r['naive_ms']:.1f} ms |")
        say(f"\nThe fill is **{r['ratio']:.0f}×** cheaper (target: at least 100×).\n")

    if "throughput" in only:
        sink = SMTPSink()
        try:
            threads = args.concurrency * args.processes
            big = throughput.digest_send(sink.url, args.subscribers, args.concurrency,
                                         args.processes, args.database_url)
            top = throughput.ceiling(sink.port, args.subscribers, big["message_bytes"], threads)
            small = throughput.digest_send(sink.url, args.small, args.concurrency,
                                           args.processes, args.database_url)
        finally:
            sink.stop()
        ratio = big["per_second"] / top["per_second"]
        say("## Digest throughput\n")
        say(f"SMTP sink: {sink.kind}. {args.processes} worker processes × {args.concurrency} "
            f"threads; the ceiling uses {threads} parallel smtplib connections.\n")
        say("| run | messages | seconds | emails/s |\n| --- | --- | --- | --- |")
        say(f"| digest through Redis + Celery + ledger | {big['sent']:,} of {big['recipients']:,}"
            f" | {big['seconds']:.1f} | {big['per_second']:,.0f} |")
        say(f"| ceiling: pre-built messages, plain smtplib | {top['messages']:,} | "
            f"{top['seconds']:.1f} | {top['per_second']:,.0f} |")
        say(f"\nRatio: **{ratio:.2f}** of the ceiling (target at least 0.6, aim 0.8).\n")
        growth = big["peak_rss_mb"] / small["peak_rss_mb"] - 1
        say("## Worker memory\n")
        say("| send | peak RSS per worker process |\n| --- | --- |")
        say(f"| {args.small:,} recipients | {small['peak_rss_mb']:.0f} MB |")
        say(f"| {args.subscribers:,} recipients | {big['peak_rss_mb']:.0f} MB |")
        say(f"\nGrowth: **{growth * 100:.1f}%** (target at most 10%).\n")

    if "latency" in only:
        r = latency.run()
        say("## Publish latency\n")
        say(f"{r['articles']} articles POSTed one at a time to `/v1/articles` (uvicorn), a warm "
            "worker, a local webhook receiver; time from the POST until the receiver has it.\n")
        say(f"p50 **{r['p50_ms']:.0f} ms**, p99 **{r['p99_ms']:.0f} ms**, max {r['max_ms']:.0f} ms "
            "(targets: p50 ≤ 50 ms, p99 ≤ 250 ms).\n")

    if "import" in only:
        r = importing.run()
        say("## CSV import\n")
        say(f"{r['rows']:,} rows, each on two lists, through `distributor subscribers import`.\n")
        say("| run | seconds | peak RSS |\n| --- | --- | --- |")
        for name in ("first", "again"):
            say(f"| {name} ({r[name]['output']}) | {r[name]['seconds']:.1f} | "
                f"{r[name]['peak_rss_mb']:.0f} MB |")
        say("")

    if "cli" in only:
        r = cli.run()
        say("## Command line start\n")
        say(f"Median of {cli.RUNS} runs, wall time, on a ready SQLite file.\n")
        say("| command | seconds | target |\n| --- | --- | --- |")
        say(f"| `distributor --version` | {r['version']:.2f} | ≤ 0.3 |")
        say(f"| `distributor lists list` | {r['lists_list']:.2f} | ≤ 0.6 |\n")

    if args.only is None:
        RESULTS.write_text("\n".join(lines) + "\n")
        print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
