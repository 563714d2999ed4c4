"""The one table-width policy of every `br` table (sessions, workers, config keys, the dashboard, ...).

- A *key* column holds what users type back (session, worker and task ids, config keys): it is
  never shortened and never broken across lines.
- Other columns wrap between words, and fold a word only when it is longer than
  `FOLD_AT` cells (a URL, a path); nothing gets an ellipsis.
- When even that does not fit the terminal, the table turns vertical: one block per row,
  `Header: value` per line (where an id still breaks only if the terminal is narrower than it).
- Off a terminal (a pipe, a file) a table is as wide as its content, one row per line, so
  `br config show | grep monthly` finds the whole key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from rich.cells import cell_len
from rich.console import Group
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

Cell = Union[str, Text]
FOLD_AT = 12  # a word up to this long keeps its line in a wrapping column; a longer one may fold


@dataclass(frozen=True)
class Column:
    """A column: its header, whether it is a key (see the module doc), and Rich's justify/style."""

    header: str
    key: bool = False
    justify: str = "left"
    style: str | None = None


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _longest_word(text: str) -> int:
    return max((cell_len(word) for line in text.splitlines() for word in line.split()), default=0)


def _widest_line(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


def _columns(columns: Sequence[Column | str]) -> list[Column]:
    return [c if isinstance(c, Column) else Column(c) for c in columns]


def _table(cols: list[Column], rows: Sequence[Sequence[Cell]], widths: list[int], options: dict[str, Any]) -> Table:
    table = Table(**options)
    for col, width in zip(cols, widths):
        table.add_column(
            col.header, width=width, justify=col.justify, style=col.style,  # type: ignore[arg-type]
            no_wrap=col.key, overflow="ignore" if col.key else "fold",
        )
    for row in rows:
        table.add_row(*(cell if isinstance(cell, Text) else Text(str(cell)) for cell in row))  # data, never markup
    return table


def _chrome(console: "Console", cols: list[Column], options: dict[str, Any]) -> int:
    """Columns of borders and padding the table adds around its cells."""
    probe = _table(cols, [], [1] * len(cols), {**options, "title": None, "caption": None, "expand": False, "show_header": False})
    return Measurement.get(console, console.options.update_width(10_000), probe).maximum - len(cols)


def _vertical(cols: list[Column], rows: Sequence[Sequence[Cell]], title: str | None) -> Group:
    """One block per row, `Header: value` per line; values wrap beside their header."""
    parts: list[Any] = [Text(title, style="bold")] if title else []
    for index, row in enumerate(rows):
        if index or title:
            parts.append(Text(""))
        block = Table.grid(padding=(0, 1))
        block.add_column(style="dim", no_wrap=True)
        block.add_column(overflow="fold")
        for col, cell in zip(cols, row):
            block.add_row(col.header + ":", cell if isinstance(cell, Text) else Text(str(cell)))
        parts.append(block)
    return Group(*parts)


def fit(
    console: "Console",
    columns: Sequence[Column | str],
    rows: Sequence[Sequence[Cell]],
    width: int | None = None,
    **options: Any,
) -> "RenderableType":
    """The rows as a table no wider than `width` (None: as wide as the content), or vertical when it cannot be.

    `options` go to `rich.table.Table` (title, box, expand, show_header, ...).
    """
    cols = _columns(columns)
    show_header = options.get("show_header", True)
    texts = [[_plain(cell) for cell in row] for row in rows]
    natural, least = [], []
    for i, col in enumerate(cols):
        cells = [row[i] for row in texts] + ([col.header] if show_header else [])
        natural.append(max([_widest_line(c) for c in cells] + [1]))
        words = max([min(_longest_word(c), FOLD_AT) for c in cells] + [_longest_word(col.header) if show_header else 1, 1])
        least.append(natural[-1] if col.key else words)
    if width is None:
        return _table(cols, rows, natural, options)
    room = width - _chrome(console, cols, options)
    if sum(least) > room:
        return _vertical(cols, rows, options.get("title"))
    return _table(cols, rows, _share(natural, least, room), options)


def _share(natural: list[int], least: list[int], room: int) -> list[int]:
    """Widths from `least` up to `natural`, the room left shared in proportion to what each column lacks."""
    widths = list(least)
    spare = room - sum(widths)
    lacking = [n - w for n, w in zip(natural, widths)]
    total = sum(lacking)
    if total <= spare:
        return list(natural)
    for i, lack in enumerate(lacking):
        grant = spare * lack // total
        widths[i] += grant
    leftover = room - sum(widths)
    for i in sorted(range(len(widths)), key=lambda i: -(natural[i] - widths[i])):
        if leftover <= 0:
            break
        if widths[i] < natural[i]:
            widths[i] += 1
            leftover -= 1
    return widths


def print_table(console: "Console", columns: Sequence[Column | str], rows: Sequence[Sequence[Cell]], **options: Any) -> None:
    """Print a table under the policy: fitted to a terminal's width, at full width anywhere else."""
    renderable = fit(console, columns, rows, console.width if console.is_terminal else None, **options)
    if console.is_terminal:
        console.print(renderable)
        return
    needed = Measurement.get(console, console.options.update_width(100_000), renderable).maximum
    saved = console.width
    console.width = max(saved, needed)
    try:
        console.print(renderable, crop=False)
    finally:
        console.width = saved
