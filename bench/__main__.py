"""python -m bench [--subscribers N] [--only NAME...]: run the benchmarks, print the
figures, and write bench/RESULTS.md."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench import cli, clients, importing, latency, metrics_cost, render, scale, throughput
from bench.common import SMTPSink, Workspace, machine
from distributor.cli.workers import cores

RESULTS = Path(__file__).parent / "RESULTS.md"


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--subscribers", type=int, default=100_000,
                        help="digest size for throughput (default 100000)")
    parser.add_argument("--small", type=int, default=10_000,
                        help="the smaller send for the memory comparison (default 10000)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="threads per worker process (the default worker's)")
    parser.add_argument("--processes", type=int, default=cores(),
                        help="bulk worker processes (default: one per core, as the worker)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the throughput run")
    parser.add_argument("--database-url", help="e.g. postgresql+psycopg://…/bench (default SQLite)")
    parser.add_argument("--scale", action="store_true",
                        help="only the million-reader run on PostgreSQL (bench/scale.py): "
                             "--subscribers defaults to 1000000, --small to 100000, the server "
                             "to --database-url, DISTRIBUTOR_BENCH_POSTGRES_URL or the local one "
                             "(a database is made on it and dropped); its section of RESULTS.md "
                             "is replaced")
    parser.add_argument("--note", default="", help="a line for RESULTS.md (e.g. the machine was shared)")
    parser.add_argument("--only", nargs="*",
                        choices=["render", "clients", "throughput", "throttled", "latency",
                                 "import", "cli", "metrics"],
                        help="only these parts (metrics: a /metrics scrape against a "
                             "million-row ledger on the local PostgreSQL; not in the default "
                             "run)")
    args = parser.parse_args()
    if args.scale:
        return scale_main(args)
    only = set(args.only or ["render", "clients", "throughput", "throttled", "latency", "import",
                             "cli"])
    lines = ["# Benchmark results\n", f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.",
             f"Database: {'SQLite' if not args.database_url else args.database_url.split(':')[0]}; "
             f"broker: the local Redis; `make bench` reproduces this. Load average at the "
             f"start: {os.getloadavg()[0]:.1f} (other work on the machine slows every figure).\n"]

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
        say("| way | per recipient | the fill is cheaper by |\n| --- | --- | --- |")
        say(f"| compiled once, filled per recipient | {r['fill_us']:.0f} µs | |")
        say(f"| Jinja2 alone (no MIME) | {r['jinja_us']:.0f} µs | {r['ratio_jinja']:.0f}× |")
        say(f"| Jinja2 + stdlib MIME, no premailer | {r['jinja_mime_us']:.0f} µs | "
            f"**{r['ratio_mime']:.0f}×** (target ≥ 100×) |")
        say(f"| naive: Jinja2 + premailer + MIME | {r['naive_ms']:.1f} ms | {r['ratio']:.0f}× |")
        say("\nPremailer dominates the naive way; the fair comparison is the middle row.\n")

    if "clients" in only:
        space = Workspace()
        message = render.sample_message(space.configure("maildir:/dev/null"))
        space.cleanup()
        count, connections = 10_000, args.concurrency
        r = clients.run(message, connections, count, args.rounds)
        say("## SMTP clients\n")
        say(f"The same {len(message):,}-byte digest, {count:,} messages over {connections} "
            f"connections from one process, to {r.pop('sink')}, counted at the sink; median "
            f"of {args.rounds} interleaved rounds. The client's CPU per message is what "
            "limits a busy worker (one GIL per process).\n")
        say("| client | emails/s | client CPU per message |\n| --- | --- | --- |")
        for name, runs in r.items():
            say(f"| {name} | {statistics.median(x['per_second'] for x in runs):,.0f} | "
                f"{statistics.median(x['cpu_us'] for x in runs):.0f} µs |")
        say("\nsmtplib dot-stuffs every message with a regex and parses both addresses on "
            "each send, one command per round trip; aiosmtplib (5.x) does the same work "
            "through asyncio and does not pipeline. Neither is fast enough, so "
            "`distributor/email/smtp_client.py` sends MAIL, RCPT and DATA in one write "
            "(RFC 2920) and the message as rendered, ready for the wire.\n")

    if "throughput" in only:
        say("## Digest throughput on the defaults\n")
        rounds = []
        sink = SMTPSink()
        try:
            for _ in range(args.rounds):
                run = throughput.digest_send(sink, args.subscribers, args.processes,
                                             args.concurrency, args.database_url)
                top = throughput.ceiling(sink, args.subscribers, run["message"],
                                         args.processes, args.concurrency)
                wire = throughput.wire(sink, args.subscribers, len(run["message"]),
                                       args.processes * args.concurrency)
                rounds.append((run, top, wire))
            small = throughput.digest_send(sink, args.small, args.processes, args.concurrency,
                                           args.database_url)
        finally:
            sink.stop()
        say(f"`distributor worker` as started by default: a fast lane and {args.processes} bulk "
            f"processes × {args.concurrency} threads. One digest to {args.subscribers:,} "
            f"readers, timed from the trigger (planning included) until {sink.kind} has taken "
            "every message; counted at the sink. Ceilings in the same run: the same layout "
            "sending the same bytes over plain smtplib, and Postfix's smtp-source with as "
            f"many sessions. {args.rounds} rounds.\n")
        say("| round | delivered | planning s | seconds | emails/s | smtplib ceiling/s | "
            "ratio | smtp-source/s | ratio |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        ratios, wire_ratios = [], []
        for n, (run, top, wire) in enumerate(rounds, start=1):
            ratio = run["per_second"] / top["per_second"]
            ratios.append(ratio)
            wire_text = ["–", "–"]
            if wire:
                wire_ratios.append(run["per_second"] / wire["per_second"])
                wire_text = [f"{wire['per_second']:,.0f}", f"{wire_ratios[-1]:.2f}"]
            say(f"| {n} | {run['delivered']:,} | {run['planning_seconds']:.1f} | "
                f"{run['seconds']:.1f} | {run['per_second']:,.0f} | {top['per_second']:,.0f} | "
                f"{ratio:.2f} | {wire_text[0]} | {wire_text[1]} |")
        say(f"\nMedian ratio to the same-layout ceiling: **{statistics.median(ratios):.2f}** "
            f"(spread {min(ratios):.2f}–{max(ratios):.2f}; target ≥ 0.9)."
            + (f" To the wire (smtp-source): **{statistics.median(wire_ratios):.2f}** "
               "(target ≥ 0.5)." if wire_ratios else "") + "\n")
        big = rounds[0][0]
        growth = big["peak_rss_mb"] / small["peak_rss_mb"] - 1
        say("## Worker memory\n")
        say("| send | peak RSS per bulk worker process |\n| --- | --- |")
        say(f"| {args.small:,} recipients | {small['peak_rss_mb']:.0f} MB |")
        say(f"| {args.subscribers:,} recipients | {big['peak_rss_mb']:.0f} MB |")
        say(f"\nGrowth: **{growth * 100:.1f}%** (targets: at most 10%, at most 150 MB).\n")

    if "throttled" in only:
        rate = 500
        sink = SMTPSink()
        try:
            run = throughput.digest_send(sink, args.subscribers, args.processes,
                                         args.concurrency, args.database_url, rate=f"{rate}/s")
        finally:
            sink.stop()
        expected = args.subscribers / rate
        say("## A route limited to 500/s\n")
        say(f"The same digest to {args.subscribers:,} readers with `DISTRIBUTOR_SMTP_RATE=500/s` "
            "(shared by every worker through Redis), counted at the sink.\n")
        say(f"{run['delivered']:,} delivered in **{run['seconds']:.1f} s** against "
            f"{expected:.0f} s at exactly the limit: **{run['seconds'] / expected - 1:+.1%}** "
            "(target: within 5%).\n")

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

    if "metrics" in only:
        r = metrics_cost.run(server_url=args.database_url)
        say("## A /metrics scrape against a big ledger\n")
        say(f"A running send with {r['rows']:,} ledger rows on PostgreSQL; the scrape's "
            f"database reads, median of {metrics_cost.SCRAPES}: **{r['with_index_ms']:.1f} ms** "
            f"(target ≤ 50 ms); without the partial index on deferred rows "
            f"{r['without_index_ms']:.1f} ms.\n")

    if "cli" in only:
        r = cli.run()
        say("## Command line start\n")
        say(f"Median of {cli.RUNS} runs, wall time, on a ready SQLite file.\n")
        say("| command | seconds | target |\n| --- | --- | --- |")
        say(f"| `distributor --version` | {r['version']:.2f} | ≤ 0.3 |")
        say(f"| `distributor lists list` | {r['lists_list']:.2f} | ≤ 0.6 |\n")

    if args.only is None:  # the million-reader section (make bench-scale) is kept
        kept = RESULTS.read_text().partition(SCALE_TITLE) if RESULTS.exists() else ("", "", "")
        RESULTS.write_text("\n".join(lines) + "\n" + ("\n" + kept[1] + kept[2] if kept[1] else ""))
        print(f"wrote {RESULTS}")
    return 0


SCALE_TITLE = "## A million on PostgreSQL"


def scale_main(args) -> int:
    count = args.subscribers if "--subscribers" in sys.argv else 1_000_000
    small = args.small if "--small" in sys.argv else 100_000
    r = scale.run(count, small, args.processes, args.concurrency, args.database_url)
    r["metrics"] = metrics_cost.run(count, args.database_url)
    lines = [SCALE_TITLE + "\n", f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}. "
             "`make bench-scale` reproduces this." + (f" {args.note}" if args.note else "") + "\n",
             *scale.report(r, args.processes, args.concurrency)]
    print("\n".join(lines), flush=True)
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    head, found, tail = text.partition(SCALE_TITLE)
    rest = tail[tail.find("\n## "):] if found and "\n## " in tail else ""
    RESULTS.write_text(head.rstrip() + "\n\n" + "\n".join(lines) + "\n" + rest)
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
