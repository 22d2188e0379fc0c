"""Terminal tables: names shortened in the middle, numbers never cut, every line fits."""

import io

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from memsim.cli.tables import (Col, build_table, fit_widths, joules, print_table, secs,
                               shorten_middle, shorten_names, size)


@given(st.text(alphabet="abcdefghij._0123456789", min_size=0, max_size=60), st.integers(2, 70))
def test_shorten_middle_keeps_both_ends(text, width):
    out = shorten_middle(text, width)
    if len(text) <= width:
        assert out == text
    else:
        assert len(out) == width and out.count("…") == 1
        head, tail = out.split("…")
        assert text.startswith(head) and text.endswith(tail)
        assert abs(len(head) - len(tail)) <= 1


def test_llm_names_stay_distinct_at_16_characters():
    names = [f"layers.{i}.attn.{p}_proj" for i in range(3) for p in "qkvo"]
    short = shorten_names(names, 16)
    assert len(set(short)) == len(names) and all(len(s) == 16 for s in short)
    assert shorten_names(["a", "bb"], 12) == ["a", "bb"]


def _render(cols, rows, width):
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=False, color_system=None)
    print_table(console, cols, rows, title="t")
    return buf.getvalue().splitlines()


@given(st.lists(st.tuples(st.text(alphabet="abcxyz._", min_size=1, max_size=50),
                          st.integers(0, 10**15)), min_size=1, max_size=8),
       st.integers(40, 120))
def test_numbers_are_never_cut_and_lines_fit_when_possible(rows, width):
    cols = [Col("layer", "name"), Col("MACs"), Col("MACs again")]
    cells = [[name, f"{n:,}", str(n)] for name, n in rows]
    lines = _render(cols, cells, width)
    body = "\n".join(lines)
    for _, n in rows:
        assert f"{n:,}" in body and str(n) in body
    needed = max(len(c[1]) for c in cells) + max(len(c[2]) for c in cells) + 10 + 4
    if needed <= width:
        assert max(len(line) for line in lines) <= width


def test_widths_shrink_names_first_and_drop_optional_columns():
    cols = [Col("name", "name"), Col("n"), Col("extra", optional=True)]
    rows = [["x" * 60, "1,234", "9" * 60]]
    widths = fit_widths(cols, rows, 80)
    assert widths[1] == 5 and sum(widths) + 4 <= 80
    table, total = build_table(cols, rows, 80)
    assert [c.header for c in table.columns] == ["name", "n"]  # a 24+ char name beats 'extra'
    assert total <= 80


def test_units():
    assert secs(0.06415) == "64.1 ms" and secs(988.3e-9) == "988 ns" and secs(None) == "—"
    assert joules(0.01188e-3) == "11.9 µJ" and joules(4.159e-3) == "4.16 mJ"
    assert size(5) == "5 B" and size(170_000) == "166 KiB" and size(0) == "0 B"
