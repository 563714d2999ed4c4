"""`br telemetry report FILE.html`: one self-contained page (inline SVG, CSS and JS; no network).

Charts: success rate per day, latency percentiles per day, cost per day and per model; a
per-day table in which runs of days with nothing to show are one row. Everything is drawn
here (SVG and HTML), so the page needs no script; the numbers are also embedded as JSON
(`#report-data`) for tools. Money is written with `buildrunner.money.usd`, as in the CLI.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from buildrunner.money import usd, usd_scale
from buildrunner.output import write_output
from buildrunner.telemetry.export import resolve_output
from buildrunner.telemetry.metrics_analyzer import MetricsAnalyzer, TelemetryMetrics, known

if TYPE_CHECKING:
    from buildrunner.project import Project

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 220, 56, 34, 12
SERIES_COLOURS = {"p50": "#2b8a3e", "p95": "#e67700", "p99": "#c92a2a"}


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


Format = Callable[[float], str]
TICKS = 4  # steps on a value axis (five gridlines)


def nice_top(value: float, steps: int = TICKS) -> float:
    """The top of an axis of `steps` round steps (1, 2, 2.5 or 5 × 10^k each) that reaches `value`."""
    if value <= 0:
        return 1.0
    raw = value / steps
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9)) * steps


def _fixed(template: str) -> Format:
    return template.format


def _ticks(fmt: Format) -> Callable[[list[float]], list[str]]:
    """Tick labels from a value format; money uses `usd_scale` instead, so its ticks never read alike."""
    return lambda values: [fmt(v) for v in values]


def _axis(ymax: float, ticks: Callable[[list[float]], list[str]]) -> str:
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    parts = []
    values = [ymax * i / TICKS for i in range(TICKS + 1)]
    for i, label in enumerate(ticks(values)):
        y = PAD_TOP + plot_h - plot_h * i / TICKS
        parts.append(f'<line x1="{PAD_LEFT}" x2="{WIDTH}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{_esc(label)}</text>')
    return "".join(parts)


def _x_labels(labels: list[str], step_w: float) -> str:
    every = max(1, len(labels) // 10)
    return "".join(
        f'<text x="{PAD_LEFT + step_w * (i + 0.5):.1f}" y="{HEIGHT - 12}" text-anchor="middle">{_esc(label[5:])}</text>'
        for i, label in enumerate(labels)
        if i % every == 0
    )


def bar_svg(
    title: str, labels: list[str], values: list[float | None], fmt: Format, ymax: float | None = None,
    ticks: Callable[[list[float]], list[str]] | None = None,
) -> str:
    """Vertical bars; a None (or NaN: no data) value is drawn as "no data", not as zero."""
    values = [known(v) for v in values]
    top = ymax if ymax is not None else nice_top(max([v for v in values if v is not None] or [0]))
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    step_w = (WIDTH - PAD_LEFT) / max(1, len(labels))
    bars = []
    for i, (label, value) in enumerate(zip(labels, values)):
        x = PAD_LEFT + step_w * i + step_w * 0.15
        if value is None:
            bars.append(f'<rect x="{x:.1f}" y="{PAD_TOP + plot_h - 2}" width="{step_w * 0.7:.1f}" height="2" class="nodata"><title>{_esc(label)}: no data</title></rect>')
            continue
        h = plot_h * value / top
        bars.append(
            f'<rect x="{x:.1f}" y="{PAD_TOP + plot_h - h:.1f}" width="{step_w * 0.7:.1f}" height="{h:.1f}" class="bar" data-value="{_esc(fmt(value))}">'
            f"<title>{_esc(label)}: {_esc(fmt(value))}</title></rect>"
        )
    return (
        f'<figure><figcaption>{_esc(title)}</figcaption><svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{_esc(title)}">'
        f"{_axis(top, ticks or _ticks(fmt))}{''.join(bars)}{_x_labels(labels, step_w)}</svg></figure>"
    )


def lines_svg(title: str, labels: list[str], series: dict[str, list[float | None]], fmt: Format) -> str:
    """One polyline per series; gaps where a day has no data."""
    series = {name: [known(v) for v in values] for name, values in series.items()}
    top = nice_top(max([v for vs in series.values() for v in vs if v is not None] or [0]))
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    step_w = (WIDTH - PAD_LEFT) / max(1, len(labels))
    paths = []
    for name, values in series.items():
        colour = SERIES_COLOURS.get(name, "#1971c2")
        segment: list[str] = []
        segments = [segment]
        for i, value in enumerate(values):
            if value is None:
                segment = []
                segments.append(segment)
                continue
            x, y = PAD_LEFT + step_w * (i + 0.5), PAD_TOP + plot_h - plot_h * value / top
            segment.append(f"{x:.1f},{y:.1f}")
            paths.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{_esc(labels[i])} {name}: {_esc(fmt(value))}</title></circle>')
        paths += [f'<polyline points="{" ".join(s)}" fill="none" stroke="{colour}" stroke-width="2" class="series-{name}"/>' for s in segments if s]
    legend = "".join(f'<span class="key" style="--c:{SERIES_COLOURS.get(n, "#1971c2")}">{_esc(n)}</span>' for n in series)
    return (
        f'<figure><figcaption>{_esc(title)} {legend}</figcaption><svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{_esc(title)}">'
        f"{_axis(top, _ticks(fmt))}{''.join(paths)}{_x_labels(labels, step_w)}</svg></figure>"
    )


def hbar_svg(title: str, items: dict[str, float], fmt: Format) -> str:
    if not items:
        return f"<figure><figcaption>{_esc(title)}</figcaption><p class='empty'>No cost records in this period.</p></figure>"
    top = max(items.values()) or 1
    row_h = 28
    height = row_h * len(items) + 8
    rows = []
    for i, (label, value) in enumerate(items.items()):
        w = (WIDTH - 200) * value / top
        y = 4 + row_h * i
        rows.append(
            f'<text x="110" y="{y + 18}" text-anchor="end">{_esc(label)}</text>'
            f'<rect x="120" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" class="bar"><title>{_esc(label)}: {_esc(fmt(value))}</title></rect>'
            f'<text x="{126 + w:.1f}" y="{y + 18}" class="bar-value">{_esc(fmt(value))}</text>'
        )
    return f'<figure><figcaption>{_esc(title)}</figcaption><svg viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{_esc(title)}">{"".join(rows)}</svg></figure>'


def _card(label: str, value: str) -> str:
    return f'<div class="card"><div class="label">{_esc(label)}</div><div class="value">{_esc(value)}</div></div>'


def _ms(value: float | None) -> str:
    return "no data" if known(value) is None else f"{value:.0f} ms"


@dataclass
class DayRow:
    """A row of the per-day table: one day, or a run of days with nothing to show (`first` to `last`)."""

    first: str
    last: str
    days: int
    metrics: TelemetryMetrics | None
    cost: float

    @property
    def label(self) -> str:
        return self.first if self.days == 1 else f"{self.first} – {self.last}"


def day_rows(trends: dict[str, TelemetryMetrics], daily_cost: dict[str, float]) -> list[DayRow]:
    """The per-day table, oldest first: a day with no finished task, no error and no spend joins the empty run before it."""
    rows: list[DayRow] = []
    for day, m in trends.items():
        cost = daily_cost.get(day, 0.0)
        if m.finished_tasks == 0 and m.error_count == 0 and cost == 0:
            if rows and rows[-1].metrics is None:
                rows[-1].last, rows[-1].days = day, rows[-1].days + 1
            else:
                rows.append(DayRow(day, day, 1, None, 0.0))
            continue
        rows.append(DayRow(day, day, 1, m, cost))
    return rows


def _day_row_html(row: DayRow) -> str:
    if row.metrics is None:
        quiet = "no activity" if row.days == 1 else f"no activity for {row.days} days"
        return f'<tr class="day-row empty-run"><td>{_esc(row.label)}</td><td colspan="7" class="empty">{quiet}</td></tr>'
    m = row.metrics
    rate = "no data" if known(m.success_rate) is None else f"{m.success_rate:.1f}%"
    cells = [str(m.finished_tasks), rate, *(_ms(v).removesuffix(" ms") for v in (m.p50_latency_ms, m.p95_latency_ms, m.p99_latency_ms)), usd(row.cost), str(m.error_count)]
    return f'<tr class="day-row"><td>{_esc(row.label)}</td>' + "".join(f'<td class="num">{_esc(c)}</td>' for c in cells) + "</tr>"


def render_report(project: "Project", days: int = 30) -> str:
    analyzer = MetricsAnalyzer(project)
    trends = analyzer.get_trends(days)
    overall = analyzer.analyze(days * 24)
    costs = analyzer.costs(days * 24)
    daily_cost = analyzer.daily_costs(days)
    labels = list(trends)
    per_day: list[TelemetryMetrics] = list(trends.values())
    rate = known(overall.success_rate)
    cards = "".join(
        [
            _card("Success rate", "no data" if rate is None else f"{rate:.1f}% ({overall.succeeded_tasks}/{overall.finished_tasks})"),
            _card("Average latency", _ms(overall.avg_latency_ms)),
            _card("P95 latency", _ms(overall.p95_latency_ms)),
            _card("Total cost", usd(overall.total_cost)),
            _card("Errors", str(overall.error_count)),
            _card("Events", str(overall.event_count)),
        ]
    )
    charts = "".join(
        [
            bar_svg("Success rate per day (%)", labels, [m.success_rate for m in per_day], _fixed("{:.0f}%"), ymax=100),
            lines_svg(
                "Latency percentiles per day (ms)",
                labels,
                {"p50": [m.p50_latency_ms for m in per_day], "p95": [m.p95_latency_ms for m in per_day], "p99": [m.p99_latency_ms for m in per_day]},
                _fixed("{:,.0f}"),
            ),
            bar_svg("Cost per day (USD)", list(daily_cost), list(daily_cost.values()), usd, ticks=usd_scale),
            hbar_svg(
                f"Cost per model (by agent), last {days} days (USD)",
                {f"{agent} · {model}": cost for agent, models in costs.by_agent_model.items() for model, cost in models.items()},
                usd,
            ),
        ]
    )
    errors = "".join(f"<tr><td>{_esc(e.message)}</td><td>{e.count}</td><td>{_esc(e.example)}</td></tr>" for e in overall.top_errors)
    rows = day_rows(trends, daily_cost)
    data = {
        "days": [
            {
                "day": d, "finished": m.finished_tasks, "success_rate": known(m.success_rate), "p50": known(m.p50_latency_ms),
                "p95": known(m.p95_latency_ms), "p99": known(m.p99_latency_ms), "cost": daily_cost.get(d, 0.0), "errors": m.error_count,
            }
            for d, m in trends.items()
        ]
    }
    template = Template((resources.files("buildrunner.telemetry") / "report.html").read_text(encoding="utf-8"))
    return template.substitute(
        title=_esc(f"BuildRunner telemetry — {project.paths.root.name}"),
        generated=_esc(_dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")),
        days=days,
        cards=cards,
        charts=charts,
        errors=errors or '<tr><td colspan="3" class="empty">No errors in this period.</td></tr>',
        day_rows="".join(_day_row_html(row) for row in reversed(rows)),
        data=json.dumps(data).replace("</", "<\\/"),
    )


def write_report(project: "Project", file: str | Path, days: int = 30) -> Path:
    """Render the report and write it (`buildrunner.output`'s rules); returns the path written."""
    path = resolve_output(project, file)
    write_output(path, [render_report(project, days)])
    return path
