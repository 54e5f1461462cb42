"""Report rendering speed, each next to a baseline measured in the same run.

    .venv/bin/python services/reports/bench/bench_reports.py

Targets (issue #19): a 20-page PDF with 10 charts rendered with p95 ≤ 1 s, printed next to
a bare reportlab document of the same page count (one paragraph a page); a CSV export of
1,000,000 rows streamed at ≥ 200,000 rows/s with flat memory, next to the standard
library's csv.writer over the same rows with no escaping or ISO dates. Wall and CPU time
are both printed: on a shared box the CPU time is the work's own. Memory is the
tracemalloc peak while streaming 50,000 and 500,000 rows to a sink that drops them:
flat means the same peak for ten times the rows.
"""

from __future__ import annotations

import csv
import io
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

from sextant.reports.domain.csv import Cell, csv_chunks
from sextant.reports.domain.kinds import ChartSeries, ReportModel, Section
from sextant.reports.domain.pdf import Cover, render_pdf

PDF_RUNS = 20
CSV_ROWS = 1_000_000
MEMORY_ROWS = 50_000  # tracemalloc slows the writer several times over
HEADER = ["repository", "number", "title", "author", "merged_at", "lead_time_hours"]
START = datetime(2026, 1, 1, tzinfo=UTC)


def twenty_pages() -> ReportModel:
    """Cover, contents, 8 pages of table (168 rows), 10 chart pages: 20 pages."""
    rows: list[list[Cell]] = [
        [f"octo/repo-{i % 7}", i, f"Change {i}", f"dev-{i % 13}", START + timedelta(hours=i), i / 7]
        for i in range(168)
    ]
    charts = [
        ChartSeries(
            f"Chart {n}",
            "bar" if n % 2 else "line",
            [f"w{w}" for w in range(26)],
            [float((w * (n + 3)) % 17) for w in range(26)],
            "changes",
        )
        for n in range(10)
    ]
    return ReportModel("Bench", "A bench report.", [Section("Rows", HEADER, rows)], charts)


def bare_document(pages: int) -> bytes:
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    story = []
    for n in range(pages):
        story += [Paragraph(f"Page {n + 1}", styles["BodyText"]), PageBreak()]
    SimpleDocTemplate(buffer, pagesize=landscape(A4), invariant=1).build(story[:-1])
    return buffer.getvalue()


def timings(function: Callable[[], object], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each run (on a shared box the CPU time is the work's own)."""
    wall, cpu = [], []
    for _ in range(runs):
        started, used = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
    return wall, cpu


def p95(times: Sequence[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[-1]


def rows(count: int) -> Iterator[list[Cell]]:
    for i in range(count):
        yield [
            "octo/repo",
            i,
            "=cmd" if i % 100 == 0 else f"Change {i}",
            "dev",
            START + timedelta(seconds=i),
            i / 7,
        ]


def stream_ours(count: int) -> int:
    size = 0
    for chunk in csv_chunks(HEADER, rows(count)):
        size += len(chunk)
    return size


def stream_stdlib(count: int) -> int:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    size = 0
    for n, row in enumerate(rows(count), start=1):
        writer.writerow(row)
        if n % 2048 == 0:
            size += len(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
    return size + len(buffer.getvalue().encode())


def peak_mb(function: Callable[[], object]) -> float:
    tracemalloc.start()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    import pypdf

    report = twenty_pages()
    cover = Cover("Acme", "workspace:bench", "2026-01-01 to 2026-03-31 (UTC)", "bench")
    pages = len(pypdf.PdfReader(io.BytesIO(render_pdf(report, cover))).pages)
    ours, ours_cpu = timings(lambda: render_pdf(report, cover), PDF_RUNS)
    bare, bare_cpu = timings(lambda: bare_document(pages), PDF_RUNS)
    print(f"PDF, {pages} pages, {len(report.charts)} charts, {PDF_RUNS} runs (target p95 ≤ 1 s):")
    for name, wall, cpu in (("report", ours, ours_cpu), ("bare", bare, bare_cpu)):
        print(
            f"  {name:8} wall median {statistics.median(wall) * 1000:7.1f} ms  "
            f"p95 {p95(wall) * 1000:7.1f} ms | CPU median {statistics.median(cpu) * 1000:7.1f} ms  "
            f"p95 {p95(cpu) * 1000:7.1f} ms"
        )
    print(
        f"  ratio    {statistics.median(ours_cpu) / statistics.median(bare_cpu):.1f}x the bare document (CPU medians)"
    )

    print(f"CSV, {CSV_ROWS:,} rows streamed (target ≥ 200,000 rows/s):")
    rates = {}
    for name, stream in (("ours", stream_ours), ("stdlib", stream_stdlib)):
        (wall,), (cpu,) = timings(lambda stream=stream: stream(CSV_ROWS), 1)
        rates[name] = CSV_ROWS / cpu
        print(
            f"  {name:8} {CSV_ROWS / wall:10,.0f} rows/s wall, {CSV_ROWS / cpu:10,.0f} rows/s CPU"
        )
    print(
        f"  ratio    {rates['ours'] / rates['stdlib']:.2f} of csv.writer without escaping or ISO dates"
    )
    small, large = (
        peak_mb(lambda: stream_ours(MEMORY_ROWS)),
        peak_mb(lambda: stream_ours(10 * MEMORY_ROWS)),
    )
    print(
        f"  peak memory {small:.2f} MB at {MEMORY_ROWS:,} rows, {large:.2f} MB at {10 * MEMORY_ROWS:,}"
    )


if __name__ == "__main__":
    main()
