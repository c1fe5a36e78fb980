"""The site's diagrams, drawn as SVG from the provider's own code at build time (``hooks.py`` adds them).

The day boundaries come from ``Window.days`` (the cut the writer uses), the records from the sandbox's dataset
and the pages from the page size, so a picture shows what the code does, not what someone once drew.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

WIDTH = 960
LEFT, RIGHT = 170, 20
FONT = "font-family='system-ui, -apple-system, Segoe UI, Roboto, sans-serif'"
COLOURS = {"interval": "#3f51b5", "lookback": "#9fa8da", "page": "#ff9800", "file": "#43a047", "old": "#a5d6a7"}


class _Canvas:
    def __init__(self, start: datetime, end: datetime, height: int) -> None:
        self.start, self.end, self.height = start, end, height
        self.parts: list[str] = []

    def x(self, moment: datetime) -> float:
        span = (self.end - self.start).total_seconds()
        return LEFT + (WIDTH - LEFT - RIGHT) * (moment - self.start).total_seconds() / span

    def text(
        self,
        x: float,
        y: float,
        text: str,
        *,
        size: int = 12,
        anchor: str = "start",
        weight: str = "normal",
        fill: str = "#212121",
    ) -> None:
        self.parts.append(
            f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' text-anchor='{anchor}' font-weight='{weight}' "
            f"fill='{fill}'>{escape(text)}</text>"
        )

    def bar(
        self, start: datetime, end: datetime, y: float, h: float, fill: str, label: str = "", label_fill: str = "#fff"
    ) -> None:
        x0, x1 = self.x(start), self.x(end)
        self.parts.append(
            f"<rect x='{x0:.1f}' y='{y:.1f}' width='{max(x1 - x0, 1):.1f}' height='{h}' rx='3' fill='{fill}'/>"
        )
        if label and x1 - x0 < 7 * len(label):  # too narrow: the label goes beside the bar
            self.text(x1 + 4, y + h / 2 + 4, label, size=11)
        elif label:
            self.text((x0 + x1) / 2, y + h / 2 + 4, label, size=11, anchor="middle", fill=label_fill)

    def line(self, x0: float, y0: float, x1: float, y1: float, stroke: str = "#9e9e9e", dash: str = "") -> None:
        dashing = f" stroke-dasharray='{dash}'" if dash else ""
        self.parts.append(f"<line x1='{x0:.1f}' y1='{y0:.1f}' x2='{x1:.1f}' y2='{y1:.1f}' stroke='{stroke}'{dashing}/>")

    def svg(self, title: str) -> str:
        body = "\n".join(self.parts)
        return (
            f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {WIDTH} {self.height}' {FONT} role='img'>"
            f"<title>{escape(title)}</title><rect width='100%' height='100%' fill='#fff'/>\n{body}\n</svg>\n"
        )


def run_diagram() -> str:
    """One run of a Hong Kong DAG with ``partition_by="day"`` and ``lookback=2``: the data interval, the days the
    lookback adds, the API pages (newest first) and the day files they become."""
    from airflow_provider_cashflow.domain.models import parse_cash_flow
    from airflow_provider_cashflow.domain.windows import Window
    from airflow_provider_cashflow.sandbox import Dataset, DatasetSpec

    hk = ZoneInfo("Asia/Hong_Kong")
    interval = Window(datetime(2026, 11, 18, tzinfo=hk), datetime(2026, 11, 19, tzinfo=hk))
    window = Window(datetime(2026, 11, 16, tzinfo=hk), interval.end)
    page_size = 40
    dataset = Dataset(DatasetSpec(seed=7, days=6, per_day=30, end=datetime(2026, 11, 20, tzinfo=UTC)))
    start_s, end_s = window.request_bounds()
    times = [parse_cash_flow(raw).business_time for raw in dataset.window(start_s, end_s)]
    pages = [times[i : i + page_size] for i in range(0, len(times), page_size)]
    if len(times) % page_size == 0:
        pages.append([])  # the API has no "more" flag: a full last page costs one more, empty, call

    canvas = _Canvas(window.start - timedelta(hours=5), window.end + timedelta(hours=14), 330)
    canvas.text(
        10,
        22,
        'One run: CashflowOperator(partition_by="day", partition_timezone="Asia/Hong_Kong", '
        f"lookback=2, page_size={page_size})",
        size=14,
        weight="bold",
    )
    # the local midnights, Hong Kong and UTC
    for midnight in sorted({day.start for day in window.days(hk)} | {window.end}):
        x = canvas.x(midnight)
        canvas.line(x, 40, x, 310, dash="3,3")
        canvas.text(x + 3, 50, midnight.astimezone(hk).strftime("%a %d %b 00:00 HKT"), size=11)
        canvas.text(x + 3, 64, midnight.astimezone(UTC).strftime("= %d %b %H:%M UTC"), size=11, fill="#616161")
    rows = {"interval": 90, "pages": 150, "files": 235}
    canvas.text(10, rows["interval"] + 15, "window", weight="bold")
    canvas.bar(interval.start, interval.end, rows["interval"], 22, COLOURS["interval"], "data interval [start, end)")
    canvas.bar(
        window.start,
        interval.start,
        rows["interval"],
        22,
        COLOURS["lookback"],
        "lookback=2: re-read",
        label_fill="#1a237e",
    )
    canvas.text(10, rows["pages"] + 15, "API pages", weight="bold")
    canvas.text(10, rows["pages"] + 30, "newest first", size=11, fill="#616161")
    for number, page in enumerate(pages, 1):
        y = rows["pages"] + (number - 1) % 2 * 26
        if page:
            canvas.bar(
                min(page), max(page) + timedelta(minutes=20), y, 20, COLOURS["page"], f"page {number}: {len(page)}"
            )
        else:
            canvas.text(canvas.x(window.start) + 4, y + 15, f"page {number}: empty, the end", size=11)
        for moment in page:
            x = canvas.x(moment)
            canvas.line(x, y + 20, x, y + 24, stroke="#e65100")
    canvas.text(10, rows["files"] + 15, "day files", weight="bold")
    canvas.text(10, rows["files"] + 30, "one per HK day", size=11, fill="#616161")
    for day in window.days(hk):
        count = sum(day.contains(t) for t in times)
        new = day.start >= interval.start
        colour = COLOURS["file"] if new else COLOURS["old"]
        canvas.bar(
            day.start + timedelta(minutes=40),
            day.end - timedelta(minutes=40),
            rows["files"],
            40,
            colour,
            label_fill="#fff" if new else "#1b5e20",
        )
        mid = (canvas.x(day.start) + canvas.x(day.end)) / 2
        ink = "#fff" if new else "#1b5e20"
        canvas.text(
            mid, rows["files"] + 17, f"date={day.start.astimezone(hk):%Y-%m-%d}", size=11, anchor="middle", fill=ink
        )
        canvas.text(
            mid,
            rows["files"] + 32,
            f"{count} records, {'written' if new else 'rewritten'}",
            size=11,
            anchor="middle",
            fill=ink,
        )
    canvas.text(
        10,
        322,
        "Time runs left to right (UTC); every record of the window lands in exactly one day file.",
        size=11,
        fill="#616161",
    )
    return canvas.svg("A run: the data interval, the API pages and the day files")


def dst_diagram() -> str:
    """New York's local days around the end of daylight saving time (1 Nov 2026) and its start (8 Mar 2026)."""
    from airflow_provider_cashflow.domain.windows import Window

    ny = ZoneInfo("America/New_York")
    panels = [
        (
            "Daylight saving time ends: Sun 1 Nov 2026 has 25 hours",
            datetime(2026, 10, 31, tzinfo=ny),
            datetime(2026, 11, 3, tzinfo=ny),
        ),
        (
            "Daylight saving time starts: Sun 8 Mar 2026 has 23 hours",
            datetime(2026, 3, 7, tzinfo=ny),
            datetime(2026, 3, 10, tzinfo=ny),
        ),
    ]
    parts: list[str] = []
    height = 0
    for title, start, end in panels:
        canvas = _Canvas(start - timedelta(hours=2), end + timedelta(hours=2), 130)
        canvas.text(10, 20, title, size=14, weight="bold")
        canvas.text(10, 62, "local days", weight="bold")
        canvas.text(10, 77, "partition_timezone=", size=11, fill="#616161")
        canvas.text(10, 91, '"America/New_York"', size=11, fill="#616161")
        for day in reversed(list(Window(start, end).days(ny))):
            hours = (day.end - day.start) / timedelta(hours=1)
            odd = hours != 24
            canvas.bar(
                day.start + timedelta(minutes=15),
                day.end - timedelta(minutes=15),
                45,
                50,
                COLOURS["interval"] if odd else COLOURS["lookback"],
            )
            mid = (canvas.x(day.start) + canvas.x(day.end)) / 2
            ink = "#fff" if odd else "#1a237e"
            canvas.text(
                mid,
                65,
                f"date={day.start.astimezone(ny):%Y-%m-%d}: {hours:g} hours",
                size=12,
                anchor="middle",
                weight="bold",
                fill=ink,
            )
            canvas.text(mid, 83, f"{day.start:%H:%MZ} → {day.end:%d %b %H:%MZ}", size=11, anchor="middle", fill=ink)
            x = canvas.x(day.start)
            canvas.line(x, 32, x, 105, dash="3,3")
            canvas.text(
                x + 3,
                118,
                day.start.astimezone(ny).strftime("00:00 %Z") + f" = {day.start:%H:%M} UTC",
                size=11,
                fill="#616161",
            )
        parts.append(f"<g transform='translate(0,{height})'>" + "\n".join(canvas.parts) + "</g>")
        height += canvas.height
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {WIDTH} {height}' {FONT} role='img'>"
        "<title>A local day across a DST change</title><rect width='100%' height='100%' fill='#fff'/>\n"
        + "\n".join(parts)
        + "\n</svg>\n"
    )


DIAGRAMS = {"img/run.svg": run_diagram, "img/dst-day.svg": dst_diagram}
