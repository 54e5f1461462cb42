"""A report as a PDF with reportlab: a title page with the scope, period and definition,
a contents page, one page per section and chart, page numbers, vector charts drawn with
reportlab.graphics. Built with ``invariant`` on, so the same report gives the same bytes
(no creation date, no random document id)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    Image,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.tableofcontents import TableOfContents

from sextant.reports.domain.csv import Cell, cell_text
from sextant.reports.domain.kinds import ChartSeries, ReportModel

PAGE = landscape(A4)
CELL_CHARS = 60  # a longer text (a title) is cut in the PDF; the CSV keeps it whole


@dataclass(frozen=True)
class Cover:
    """What the title page says about whose report this is and what it covers."""

    tenant: str
    scope: str
    period: str
    generated_for: str
    logo: bytes | None = None  # PNG or JPEG, checked when it was uploaded


class _Document(BaseDocTemplate):  # type: ignore[misc]  # reportlab ships no types
    """Headings become contents entries (and PDF bookmarks) as they are laid out."""

    def afterFlowable(self, flowable: Flowable) -> None:
        if isinstance(flowable, Paragraph) and flowable.style.name == "Heading1":
            text = flowable.getPlainText()
            key = f"h{self.seq.nextf('heading')}"
            self.canv.bookmarkPage(key)
            self.notify("TOCEntry", (0, text, self.page, key))


def _number_page(canvas: Canvas, doc: BaseDocTemplate) -> None:
    canvas.saveState()
    canvas.setFont("Helvetica", 8)
    canvas.drawRightString(PAGE[0] - 20 * mm, 12 * mm, f"Page {doc.page}")
    canvas.restoreState()


def chart_drawing(
    series: ChartSeries, width: float = 240 * mm, height: float = 110 * mm
) -> Drawing:
    """One chart as vector graphics: bars or a line over the labels."""
    drawing = Drawing(width, height)
    chart: Any = VerticalBarChart() if series.chart == "bar" else HorizontalLineChart()
    chart.x, chart.y = 15 * mm, 15 * mm
    chart.width, chart.height = width - 25 * mm, height - 25 * mm
    chart.data = [tuple(series.values)]
    chart.categoryAxis.categoryNames = list(series.labels)
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontSize = 7
    if series.chart == "bar":
        chart.bars[0].fillColor = colors.HexColor("#3b6ea5")
    else:
        chart.lines[0].strokeColor = colors.HexColor("#3b6ea5")
    drawing.add(chart)
    return drawing


LOGO_BOX = (60 * mm, 25 * mm)  # width, height: the logo is scaled to fit, proportions kept


def _logo(data: bytes) -> Flowable:
    logo = Image(io.BytesIO(data), width=LOGO_BOX[0], height=LOGO_BOX[1], kind="proportional")
    logo.hAlign = "LEFT"
    return logo


def render_pdf(report: ReportModel, cover: Cover) -> bytes:
    """The report's PDF bytes."""
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = _Document(
        buffer,
        pagesize=PAGE,
        title=report.title,
        author="Sextant",
        invariant=1,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body")
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=_number_page)])
    contents = TableOfContents()
    story: list[Flowable] = [] if cover.logo is None else [_logo(cover.logo)]
    story += [
        # escaped: a tenant's name or a service's reason is text, never reportlab markup
        Paragraph(escape(report.title), styles["Title"]),
        Paragraph(escape(f"Tenant: {cover.tenant}"), styles["BodyText"]),
        Paragraph(escape(f"Scope: {cover.scope}"), styles["BodyText"]),
        Paragraph(escape(f"Period: {cover.period}"), styles["BodyText"]),
        Paragraph(escape(f"Requested by: {cover.generated_for}"), styles["BodyText"]),
        Spacer(1, 6 * mm),
        Paragraph("Definition", styles["Heading2"]),
        Paragraph(escape(report.definition), styles["BodyText"]),
        PageBreak(),
        Paragraph("Contents", styles["Heading2"]),
        contents,
        PageBreak(),
    ]
    for section in report.sections:
        story.append(Paragraph(section.title, styles["Heading1"]))
        if not section.rows:
            story.append(Paragraph("None in this period.", styles["BodyText"]))
        else:
            table = Table(
                [list(section.header)] + [[_cell(v) for v in row] for row in section.rows],
                repeatRows=1,  # the header again on every page the table runs onto
            )
            table.setStyle(
                TableStyle(
                    [
                        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
                        ("FONTSIZE", (0, 0), (-1, -1), 7),
                    ]
                )
            )
            story.append(table)
        story.append(PageBreak())
    for series in report.charts:
        story.append(Paragraph(series.title, styles["Heading1"]))
        story.append(Paragraph(f"Unit: {series.unit}", styles["BodyText"]))
        story.append(chart_drawing(series))
        story.append(PageBreak())
    doc.multiBuild(story)
    return buffer.getvalue()


def _cell(value: Cell) -> str:
    """A table cell as printed: the CSV's text, one line, cut when long."""
    text = " ".join(cell_text(value).split())
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"
