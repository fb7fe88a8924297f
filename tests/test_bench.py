"""The benchmarks' own baselines keep up with the templates: a benchmark that broke when
a template gained a value would only be found on the next `make bench`."""

from __future__ import annotations


def test_the_render_benchmark_runs_its_baselines_on_a_few_readers():
    from bench import render
    from bench.common import Workspace

    space = Workspace()
    try:
        figures = render.run(space.configure("maildir:/dev/null"), recipients=20, naive=1)
    finally:
        space.cleanup()
    assert figures["message_bytes"] > 10_000
    assert figures["fill_us"] > 0 and figures["jinja_mime_us"] > 0 and figures["naive_ms"] > 0
