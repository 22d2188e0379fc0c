"""HTML assembly shared by every report: figure fragments, tables and the Jinja2 template.

One self-contained offline file per report: plotly.js is inlined exactly once (from
``plotly.offline.get_plotlyjs()``), each figure is a ``fig.to_html(full_html=False,
include_plotlyjs=False)`` fragment, and the page is rendered by Jinja2 with autoescape on, so any
name from a user file (network, layer, hardware, parameter values) reaches the page as text.
Inside plotly figures user names are passed through ``text()``: plotly renders labels and hover
text with its own small markup language (``<b>``, ``<br>``, entities) as SVG text nodes, and
``text()`` escapes ``& < >`` so a name is shown literally and never parsed as a tag.
"""

from __future__ import annotations

import html
import math
import os
import tempfile

from memsim.fileio import publish_mode
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).with_name("templates")

#: plotly config for every figure: no network (no "edit in chart studio" link, no mathjax CDN)
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


def text(value) -> str:
    """A user-supplied name made safe for plotly labels, ticks and hover text (shown literally)."""
    return html.escape("" if value is None else str(value), quote=False)


@dataclass
class Figure:
    """One report figure: a stable ``slug`` (the div id), a ``title``, the plotly ``fig``, a
    one-paragraph ``caption`` saying how to read it, and ``notes`` (what was left out and why)."""

    slug: str
    title: str
    fig: object
    caption: str = ""
    notes: list[str] = field(default_factory=list)

    def fragment(self) -> str:
        """The figure as an HTML fragment without plotly.js."""
        return self.fig.to_html(full_html=False, include_plotlyjs=False, div_id=self.slug,
                                config=PLOTLY_CONFIG, default_width="100%", default_height="520px")


@dataclass
class Table:
    """A table rendered as HTML: ``columns`` (header texts), ``rows`` (lists of cells, already
    formatted as text or numbers), optional per-row CSS ``classes`` ("met"/"missed"), ``sortable``
    tables sort by clicking a header (numbers numerically, using each cell's ``data-value``)."""

    slug: str
    title: str
    columns: list[str]
    rows: list[list]
    classes: list[str] = field(default_factory=list)
    sortable: bool = False
    caption: str = ""
    notes: list[str] = field(default_factory=list)

    def cells(self):
        """Rows as (css class, [(display text, sort value)]) for the template."""
        out = []
        for i, row in enumerate(self.rows):
            css = self.classes[i] if i < len(self.classes) else ""
            out.append((css, [_cell(v) for v in row]))
        return out


def _cell(value):
    """(display, sort key) of one table cell; ``value`` may be a (display, sort) pair already."""
    if isinstance(value, tuple) and len(value) == 2:
        display, key = value
        return str(display), "" if key is None else key
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—", ""
    if isinstance(value, bool):
        return ("yes" if value else "no"), int(value)
    if isinstance(value, float):
        return f"{value:.4g}", repr(value)
    if isinstance(value, int):
        return str(value), value
    return str(value), ""


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)


def render(title: str, *, subtitle: str = "", facts: list[tuple[str, str]] | None = None,
           blocks: list, assumptions: list[str] | None = None) -> str:
    """The full HTML page: ``title``, a ``subtitle``, ``facts`` (label, value) pairs shown in the
    header, ``blocks`` (``Figure`` and ``Table`` objects in page order) and ``assumptions``."""
    import plotly
    from plotly.offline import get_plotlyjs

    items = []
    for block in blocks:
        if isinstance(block, Figure):
            items.append({"kind": "figure", "block": block, "html": block.fragment()})
        else:
            items.append({"kind": "table", "block": block})
    template = _environment().get_template("report.html.j2")
    return template.render(title=title, subtitle=subtitle, facts=facts or [], items=items,
                           assumptions=assumptions or [], plotlyjs=get_plotlyjs(),
                           plotly_version=plotly.__version__)


def write_atomic(path: str | Path, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` through a temporary file in the same directory and a rename,
    so a reader never sees a half-written report and an error leaves nothing behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    publish_mode(tmp)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content.encode("utf-8") if isinstance(content, str) else content)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path
