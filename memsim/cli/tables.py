"""Terminal tables that fit the console width: names shortened in the middle, numbers never cut.

Every command's table goes through :func:`print_table`. Columns come in three kinds:

- ``num``: right-justified figures, never shortened or wrapped;
- ``name``: identifiers (layer, board, point names); shortened *in the middle* with ``…`` so
  that both the prefix (``layers.0``) and the distinguishing tail (``q_proj``) stay visible;
- ``text``: short words (verdicts, may hold rich markup), left-justified, never shortened;
- ``wrap``: prose (descriptions, notes), wrapped at word boundaries into the space left over.

A column marked ``optional`` is left out (last first) when keeping it would shorten some name
below ``NAME_KEEP`` characters or the table would not fit at all; the caller says where the
full data is (``--json``).

When even the narrowest layout (names at their minimum width) is wider than the console, the
table is printed at its minimum width rather than cutting a number.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich import box
from rich.table import Table
from rich.text import Text

#: a shortened name keeps at least this many characters (header length if longer)
NAME_MIN = 10
#: optional columns go before a name is cut below this many characters
NAME_KEEP = 24
#: a wrapped prose column gets at least this many characters
WRAP_MIN = 12


@dataclass(frozen=True)
class Col:
    """One column: ``header``, ``kind`` (``num``, ``name``, ``text`` or ``wrap``), and whether
    it may be left out on a narrow terminal (``optional``)."""

    header: str
    kind: str = "num"
    optional: bool = False


def shorten_middle(text: str, width: int, tail: int | None = None) -> str:
    """``text`` cut to ``width`` characters by replacing its middle with ``…``; ``tail``
    characters of the end are kept (default: half)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:max(width, 0)]
    keep = width - 1
    tail = keep // 2 if tail is None else max(0, min(tail, keep))
    return text[:keep - tail] + "…" + (text[-tail:] if tail else "")


def shorten_names(names: list[str], width: int) -> list[str]:
    """Shorten every name to ``width`` with one head/tail split for the column, chosen to keep
    as many distinct names distinct as possible (``layers.0.attn.q_proj`` and ``…k_proj`` stay
    apart); among equally good splits the one nearest the middle wins."""
    if all(len(n) <= width for n in names) or width <= 1:
        return [shorten_middle(n, width) for n in names]
    keep = width - 1
    order = sorted(range(keep + 1), key=lambda t: (abs(t - keep // 2), -t))
    best, best_count = None, -1
    for tail in order:
        short = [shorten_middle(n, width, tail) for n in names]
        count = len(set(short))
        if count > best_count:
            best, best_count = short, count
            if count == len(set(names)):
                break
    return best


def _cell_len(cell) -> int:
    text = cell.plain if isinstance(cell, Text) else str(cell)
    return max((len(line) for line in text.split("\n")), default=0)


def _overhead(ncols: int) -> int:
    # box.SIMPLE_HEAD without edges and with collapsed padding: two spaces between columns
    return 2 * ncols - 2


def fit_widths(cols: list[Col], rows: list[list], width: int) -> list[int]:
    """Column widths that fit ``width`` characters (or the narrowest possible layout)."""
    natural = [max([len(c.header)] + [_cell_len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    widths = list(natural)
    floor = [natural[i] if c.kind in ("num", "text") else
             min(natural[i], max(len(c.header), NAME_MIN if c.kind == "name" else WRAP_MIN))
             for i, c in enumerate(cols)]
    excess = sum(widths) + _overhead(len(cols)) - width
    # shrink prose first (it wraps without loss), then the widest name column, one step at a time
    for kinds in (("wrap",), ("name",)):
        while excess > 0:
            candidates = [i for i, c in enumerate(cols) if c.kind in kinds and widths[i] > floor[i]]
            if not candidates:
                break
            i = max(candidates, key=lambda j: widths[j])
            widths[i] -= 1
            excess -= 1
    return widths


def _names_cut(cols, rows, widths) -> bool:
    return any(c.kind == "name" and
               widths[i] < min(NAME_KEEP, max([0] + [_cell_len(r[i]) for r in rows]))
               for i, c in enumerate(cols))


def drop_optional(cols: list[Col], rows: list[list], width: int) -> tuple[list[Col], list[list]]:
    """``cols`` and ``rows`` without the optional columns that would force names to be cut."""
    cols, rows = list(cols), [list(r) for r in rows]

    def crowded() -> bool:
        widths = fit_widths(cols, rows, width)
        return sum(widths) + _overhead(len(cols)) > width or _names_cut(cols, rows, widths)

    while any(c.optional for c in cols) and crowded():
        i = max(j for j, c in enumerate(cols) if c.optional)
        del cols[i]
        for r in rows:
            del r[i]
    return cols, rows


def _as_text(cols: list[Col], rows: list[list]) -> list[list]:
    """Cells as rich ``Text``: markup is read only in ``text`` columns (verdicts); names, paths
    and descriptions are shown literally, brackets included. Name cells stay strings."""
    out = []
    for row in rows:
        cells = []
        for col, cell in zip(cols, row):
            if isinstance(cell, Text) or col.kind == "name":
                cells.append(cell)
            else:
                cells.append(Text.from_markup(str(cell)) if col.kind == "text" else Text(str(cell)))
        out.append(cells)
    return out


def build_table(cols: list[Col], rows: list[list], width: int, *, title: str | None = None,
                caption: str | None = None) -> tuple[Table, int]:
    """A rich ``Table`` of ``rows`` fitted to ``width``; returns (table, its total width)."""
    cols, rows = drop_optional(cols, _as_text(cols, rows), width)
    widths = fit_widths(cols, rows, width)
    table = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, collapse_padding=True, title_justify="left",
                  caption_justify="left")
    for col, w in zip(cols, widths):
        table.add_column(col.header, justify="right" if col.kind == "num" else "left",
                         no_wrap=col.kind != "wrap", width=w, min_width=w, max_width=w,
                         overflow="fold")
    columns = []
    for i, (col, w) in enumerate(zip(cols, widths)):
        cells = [r[i] for r in rows]
        if col.kind == "name":
            cells = [Text(c) for c in shorten_names([str(c) for c in cells], w)]
        columns.append(cells)
    for cells in zip(*columns):
        table.add_row(*cells)
    return table, sum(widths) + _overhead(len(cols))


def _print(console, table, total: int) -> None:
    width = console.width
    if total <= width:
        console.print(table)
        return
    console.width = total  # wider than the console rather than cut a number
    try:
        console.print(table, crop=False)
    finally:
        console.width = width


def print_table(console, cols: list[Col], rows: list[list], *, title: str | None = None,
                caption: str | None = None) -> None:
    """Print ``rows`` under ``cols`` on ``console``, fitted to its width (see module doc)."""
    table, total = build_table(cols, rows, console.width, title=title)
    _print(console, table, total)
    if caption:  # below the table at the console's width (a rich caption wraps to the table's)
        console.print(Text(caption), overflow="fold")


def print_pairs(console, pairs: list[tuple[str, str]], *, title: str | None = None) -> None:
    """A two-column ``label  value`` list (a verdict block); values are never cut."""
    cols = [Col("", "name"), Col("", "wrap")]
    table, total = build_table(cols, [list(p) for p in pairs], console.width, title=title)
    table.show_header = False
    table.box = None
    _print(console, table, total)


def _scaled(value, units, digits: int, zero: str) -> str:
    import math

    try:
        value = float(value)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(value):
        return "—"
    if value == 0:
        return zero
    for unit, scale in units:
        if abs(value) >= scale:
            break
    text = f"{value / scale:.{digits}g}"
    return f"{float(text):g} {unit}" if "e" in text else f"{text} {unit}"


_SECONDS = (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9), ("ps", 1e-12))
_JOULES = (("J", 1.0), ("mJ", 1e-3), ("µJ", 1e-6), ("nJ", 1e-9), ("pJ", 1e-12))
_BYTES = (("TiB", 2.0**40), ("GiB", 2.0**30), ("MiB", 2.0**20), ("KiB", 2.0**10), ("B", 1.0))


def secs(value, digits: int = 3) -> str:
    """Seconds for a terminal column: '64.2 ms', '988 ns' (— when missing)."""
    return _scaled(value, _SECONDS, digits, "0 s")


def joules(value, digits: int = 3) -> str:
    """Energy for a terminal column: '1.11 mJ', '11.9 µJ' (— when missing)."""
    return _scaled(value, _JOULES, digits, "0 J")


def size(value, digits: int = 3) -> str:
    """Bytes with binary prefixes for a terminal column: '166 KiB' (— when missing)."""
    return _scaled(value, _BYTES, digits, "0 B")
