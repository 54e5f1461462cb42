"""The PDF read back with pypdf: cover, contents, tables, charts, page numbers, and the same
bytes for the same report."""

from __future__ import annotations

import io

import pypdf

from sextant.reports.domain.kinds import ChartSeries, ReportModel, Section
from sextant.reports.domain.pdf import Cover, render_pdf

REPORT = ReportModel(
    title="Compliance evidence",
    definition="A change counts when nobody but its author approved it.",
    sections=[
        Section(
            "Merged without review",
            ["repository", "number", "title"],
            [["octo/repo", n, f"=cmd {n} <b>"] for n in range(1, 41)],
        )
    ],
    charts=[ChartSeries("By repository", "bar", ["octo/repo", "octo/web"], [40.0, 2.0], "changes")],
)
COVER = Cover(
    tenant="Acme", scope="workspace:w1", period="2026-03-02 to 2026-03-08 (UTC)", generated_for="u1"
)


def pages() -> list[str]:
    return [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_pdf(REPORT, COVER))).pages]


def test_the_cover_says_whose_what_and_when_and_the_definition() -> None:
    first = pages()[0]
    for line in (
        "Compliance evidence",
        "Tenant: Acme",
        "Scope: workspace:w1",
        "Period: 2026-03-02 to 2026-03-08 (UTC)",
        "A change counts when nobody but its author approved it.",
    ):
        assert line in first


def test_contents_page_numbers_tables_and_charts() -> None:
    text = pages()
    # cover, contents, 40 rows (21 fit under the heading, 19 after the repeated header),
    # the chart
    assert len(text) == 5
    assert all(f"Page {n}" in page for n, page in enumerate(text, start=1))
    contents = text[1]
    assert "Merged without review" in contents and "By repository" in contents
    assert text[3].startswith("Page 4\nrepository\nnumber\ntitle\n")  # header repeated
    assert "'=cmd 40 <b>" in text[3]  # escaped as in the CSV, markup printed as text
    assert "octo/web" in text[4] and "Unit: changes" in text[4]


def test_a_tenant_name_with_markup_is_printed_as_text() -> None:
    cover = Cover(tenant="Smith & <Jones>", scope="workspace:w1", period="p", generated_for="<u1>")
    first = pypdf.PdfReader(io.BytesIO(render_pdf(REPORT, cover))).pages[0].extract_text()
    assert "Tenant: Smith & <Jones>" in first and "Requested by: <u1>" in first


def test_the_same_report_gives_the_same_bytes() -> None:
    assert render_pdf(REPORT, COVER) == render_pdf(REPORT, COVER)
