"""Trace input (.npz, lackey) and ``memsim replay``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memsim.cache import CacheLevelSpec, Hierarchy
from memsim.cache.replay import replay
from memsim.cache.trace import INSTR, LOAD, MODIFY, STORE, Trace, load_trace, parse_lackey
from memsim.cli import main
from memsim.errors import InputError

DATA = Path(__file__).parent / "data" / "cache"
HW = DATA / "hw_two_level.yaml"


def run_cli(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_lackey_parser_reads_all_record_kinds():
    tr = load_trace(DATA / "tiny_lackey.txt")
    assert tr.kind.tolist() == [INSTR, LOAD, STORE, INSTR, MODIFY, LOAD]
    assert tr.addr.tolist() == [0x4001000, 0x7FF000100, 0x7FF000140, 0x4001003, 0x601038,
                                0x60107C]
    assert tr.size.tolist() == [3, 8, 8, 4, 4, 8]
    data = tr.data_only()
    assert len(data) == 4
    first, nl = data.spans(64)
    assert nl.tolist() == [1, 1, 1, 2]  # 0x60107c + 8 crosses into the next line


@pytest.mark.parametrize("text,line", [
    (b"I  0400,4\n L zz10,8\n", 2),
    (b" X 1000,8\n", 1),
    (b" L 1000\n", 1),
    (b" L 1000,0\n", 1),
    (b"hello world\n", 1),
])
def test_malformed_lackey_lines_are_input_errors(text, line):
    with pytest.raises(InputError) as info:
        parse_lackey(text, path="t.txt")
    assert info.value.location.line == line


def test_empty_or_unknown_file_is_input_error(tmp_path):
    (tmp_path / "e.txt").write_bytes(b"==1== nothing here\n")
    with pytest.raises(InputError, match="no accesses"):
        load_trace(tmp_path / "e.txt")
    with pytest.raises(InputError, match="cannot read"):
        load_trace(tmp_path / "missing.npz")


def test_npz_validation(tmp_path):
    np.savez(tmp_path / "a.npz", address=np.arange(3))
    with pytest.raises(InputError, match="missing array 'addr'"):
        load_trace(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", addr=np.arange(3), write=np.ones(2, bool))
    with pytest.raises(InputError, match="write"):
        load_trace(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", addr=np.arange(3) - 5)
    with pytest.raises(InputError, match="non-negative"):
        load_trace(tmp_path / "c.npz")
    np.savez(tmp_path / "d.npz", addr=np.arange(3), size=np.zeros(3, np.int64))
    with pytest.raises(InputError, match="≥ 1"):
        load_trace(tmp_path / "d.npz")
    np.savez(tmp_path / "e.npz", addr=np.array([0, 60], np.uint64), size=np.int64(8))
    tr = load_trace(tmp_path / "e.npz")
    assert tr.size.tolist() == [8, 8] and tr.kind.tolist() == [LOAD, LOAD]


def test_default_mode_touches_every_line_of_a_straddling_access():
    h = Hierarchy([CacheLevelSpec("L1", 4, 2, 64)])
    tr = Trace(np.array([60, 0, 64, 200], np.uint64), np.array([8, 1, 1, 100], np.int64),
               np.array([LOAD, LOAD, STORE, LOAD], np.uint8))
    r = replay(tr, h)
    l1 = r["levels"][0]
    # 60+8 → lines 0,1 (2 misses); 0 hit; 64 store hit; 200..299 → lines 3,4 (2 misses)
    assert (l1["loads"], l1["stores"], l1["hits"], l1["misses"]) == (5, 1, 2, 4)
    assert r["accesses"] == 4 and r["memory"]["loads"] == 4


def test_modify_is_load_then_store_in_default_mode():
    tr = parse_lackey(b" M 1000,4\n")
    r = replay(tr, Hierarchy([CacheLevelSpec("L1", 4, 2, 64)]), flush=True)
    l1 = r["levels"][0]
    assert (l1["loads"], l1["stores"], l1["hits"], l1["misses"], l1["writebacks"]) == \
        (1, 1, 1, 1, 1)
    assert r["memory"] == {"loads": 1, "stores": 1}


def test_cli_json_contract_npz(tmp_path, capsys):
    rng = np.random.default_rng(0)
    addr = rng.integers(0, 1 << 20, 20000).astype(np.uint64)
    write = rng.random(20000) < 0.3
    np.savez(tmp_path / "t.npz", addr=addr, write=write, size=np.int64(4))
    code, out, err = run_cli(["replay", str(tmp_path / "t.npz"), "--hardware", str(HW),
                              "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) >= {"accesses", "seconds", "levels"}
    assert doc["accesses"] == 20000 and isinstance(doc["seconds"], float)
    assert [lv["name"] for lv in doc["levels"]] == ["L1", "L2"]
    for lv in doc["levels"]:
        assert set(lv) == {"name", "loads", "stores", "hits", "misses", "evictions",
                           "writebacks"}
    # same result as the library on the same geometry
    h = Hierarchy([CacheLevelSpec("L1", 64, 2, 64), CacheLevelSpec("L2", 256, 4, 64,
                                                                   shared=True)])
    ref = replay(load_trace(tmp_path / "t.npz"), h)
    assert doc["levels"] == ref["levels"]


def test_cli_compat_modes_and_lackey(capsys):
    code, out, err = run_cli(["replay", str(DATA / "tiny_lackey.txt"), "--hardware", str(HW),
                              "--compat", "cachegrind", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["cachegrind"]["Ir"] == 2 and doc["cachegrind"]["Dr"] == 3
    assert doc["cachegrind"]["Dw"] == 1 and doc["cachegrind"]["D1mr"] == 3
    code, out, err = run_cli(["replay", str(DATA / "tiny_lackey.txt"), "--hardware", str(HW),
                              "--compat", "pycachesim", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["levels"][0]["stores"] == 2  # S and the store half of M


def test_cli_table_output(capsys):
    code, out, err = run_cli(["replay", str(DATA / "tiny_lackey.txt"), "--hardware", str(HW)],
                             capsys)
    assert code == 0, err
    assert "L1" in out and "memory" in out


def test_cli_bad_trace_and_bad_compat_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b" L 1000,8\n L nothex,8\n")
    code, out, err = run_cli(["replay", str(bad), "--hardware", str(HW), "--json"], capsys)
    assert code == 2 and out == ""
    assert f"{bad}:2:1:" in err
    code, out, err = run_cli(["replay", str(DATA / "tiny_lackey.txt"), "--hardware", str(HW),
                              "--compat", "dinero"], capsys)
    assert code == 2 and "compat" in err


def _reference_spans(tr: Trace, line: int, instructions: bool, cg: bool):
    """The vectorised numpy preparation replay used before the compiled pass (the oracle)."""
    if not instructions:
        tr = tr.data_only()
    first, nl = tr.spans(line)
    kind = tr.kind
    if cg:
        return first, nl, np.where(kind == INSTR, 2, np.where(kind == STORE, 1, 0))
    rep = np.where(kind == MODIFY, 2, 1)
    idx = np.repeat(np.arange(len(tr)), rep)
    second = np.zeros(idx.shape[0], dtype=bool)
    second[np.cumsum(rep)[kind == MODIFY] - 1] = True
    return first[idx], nl[idx], np.where(second | (kind[idx] == STORE), 1, 0)


@given(st.lists(st.tuples(st.integers(0, 2**40), st.integers(1, 300), st.integers(0, 3)),
                max_size=60),
       st.sampled_from([16, 48, 64, 100, 128]), st.booleans(), st.booleans())
@settings(max_examples=150, deadline=None)
def test_prepare_spans_equals_the_numpy_reference(rows, line, instructions, cg):
    """One compiled pass gives exactly the old spans, modify expansion and instruction rules,
    for power-of-two lines (shift path) and other lines (division path)."""
    from memsim.cache.trace import prepare_spans

    addr = np.array([r[0] for r in rows], dtype=np.uint64)
    size = np.array([r[1] for r in rows], dtype=np.int64)
    kind = np.array([r[2] for r in rows], dtype=np.uint8)
    tr = Trace(addr, size, kind)
    first, nl, kinds = prepare_spans(tr, line, instructions, cg)
    want = _reference_spans(tr, line, instructions, cg)
    # nlines is None exactly when every access covers one line
    assert (nl is None) == bool(np.all(np.asarray(want[1]) == 1))
    got = (first, np.ones(first.shape[0], np.int64) if nl is None else nl, kinds)
    for g, w in zip(got, want):
        assert g.tolist() == np.asarray(w).tolist()
    # one size for all, as load_npz gives it (a broadcast view), spans like the full array
    if rows:
        one = Trace(addr, np.broadcast_to(size[:1], addr.shape), kind)
        full = Trace(addr, np.full(addr.shape, size[0]), kind)
        for g, w in zip(prepare_spans(one, line, instructions, cg),
                        prepare_spans(full, line, instructions, cg)):
            assert (g is None and w is None) or g.tolist() == w.tolist()


def test_prepare_spans_refuses_sizes_not_one_per_access():
    from memsim.cache.trace import prepare_spans

    tr = Trace(np.arange(4, dtype=np.uint64), np.ones(3, np.int64), np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="one size per access"):
        prepare_spans(tr, 64, False, False)


def test_npz_scalar_size_and_flags_are_views_not_copies(tmp_path):
    """A scalar ``size`` stays one value (a broadcast view) and the addresses are not copied;
    the trace replays exactly like one with the sizes and kinds written out."""
    addr = np.arange(0, 64 * 300, 24, dtype=np.int64)  # every third access straddles a line
    write = np.arange(addr.size) % 4 == 1
    np.savez(tmp_path / "s.npz", addr=addr, write=write, size=np.int64(48))
    np.savez(tmp_path / "f.npz", addr=addr.astype(np.uint64), write=write.astype(np.uint8),
             size=np.full(addr.size, 48, np.uint32))
    one, full = load_trace(tmp_path / "s.npz"), load_trace(tmp_path / "f.npz")
    assert one.size.strides == (0,) and one.size.shape == addr.shape
    assert one.addr.base is not None and one.addr.base.dtype == np.int64  # a view of the file's
    assert one.addr.dtype == np.uint64 and one.kind.dtype == np.uint8
    for a, b in ((one.addr, full.addr), (one.size, full.size), (one.kind, full.kind)):
        assert a.tolist() == b.tolist()
    assert one.kind.tolist() == np.where(write, STORE, LOAD).tolist()
    specs = [CacheLevelSpec("L1", 8, 2, 64), CacheLevelSpec("L2", 32, 4, 64, shared=True)]
    for compat in ("default", "pycachesim", "cachegrind"):
        got = replay(one, Hierarchy(specs, compat=compat), flush=True)
        want = replay(full, Hierarchy(specs, compat=compat), flush=True)
        got.pop("seconds"), want.pop("seconds")
        assert got == want


def test_npz_bool_flags_with_other_byte_values_are_stores(tmp_path):
    """A bool ``write`` array whose bytes are not 0/1 (a file may hold any byte) still marks a
    store wherever a byte is non-zero (its bytes are only used as kinds when they are 0/1)."""
    write = np.array([0, 2, 1, 255, 0], np.uint8).view(np.bool_)
    np.savez(tmp_path / "w.npz", addr=np.arange(5, dtype=np.uint64) * 64, write=write)
    tr = load_trace(tmp_path / "w.npz")
    assert tr.kind.tolist() == [LOAD, STORE, STORE, STORE, LOAD]


def test_access_spans_without_nlines_is_one_line_per_access():
    """``nlines=None`` (what prepare_spans gives for single-line traces) counts like ones."""
    rng = np.random.default_rng(3)
    first = rng.integers(0, 200, 3000)
    kinds = (rng.random(3000) < 0.3).astype(np.uint8)
    specs = [CacheLevelSpec("L1", 8, 4, 64), CacheLevelSpec("L2", 64, 8, 64, shared=True)]
    for compat in ("default", "pycachesim", "cachegrind"):
        a, b = Hierarchy(specs, compat=compat), Hierarchy(specs, compat=compat)
        got = a.access_spans(0, first, None, kinds)
        want = b.access_spans(0, first, np.ones(3000, np.int64), kinds)
        assert got.tolist() == want.tolist() and a.stats().tolist() == b.stats().tolist()
    with pytest.raises(ValueError, match="kinds for"):
        Hierarchy(specs).access_spans(0, first, None, kinds[:10])


_EXIT_PROBE = """import contextlib, gc, io, os, runpy, sys
sys.argv = ["memsim", *sys.argv[1:]]
try:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        runpy.run_module("memsim", run_name="__main__")
except SystemExit as exc:
    tasks = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else 1
    print(exc.code, gc.get_freeze_count(), os.environ.get("OPENBLAS_NUM_THREADS", "-"), tasks)
"""


@pytest.mark.parametrize("argv,code,frozen", [
    (["replay", str(DATA / "tiny_lackey.txt"), "--hardware", str(HW), "--json"], 0, True),
    (["replay", str(DATA / "tiny_lackey.txt"), "--hardware", str(HW)], 0, True),
    (["replay", str(DATA / "hw_two_level.yaml"), "--hardware", str(HW)], 2, False),
    (["list", "hardware"], 0, False),
])
def test_console_script_skips_the_final_gc_only_after_a_replay(argv, code, frozen):
    """The console script freezes the collector's objects before exiting (no final collection)
    after a replay printed its counters, and after nothing else: a failed replay or another
    command exits as before."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _EXIT_PROBE, *argv], capture_output=True,
                         text=True, check=True).stdout.split()
    assert int(out[0]) == code and (int(out[1]) > 0) == frozen, out


@pytest.mark.parametrize("user", [None, "2"])
def test_replay_starts_openblas_single_threaded_unless_told_otherwise(user):
    """A replay process (which calls no BLAS routine) imports numpy with one OpenBLAS thread:
    the process runs a single thread; a user's own OPENBLAS_NUM_THREADS is kept."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if user is not None:
        env["OPENBLAS_NUM_THREADS"] = user
    argv = ["replay", str(DATA / "tiny_lackey.txt"), "--hardware", str(HW), "--json"]
    out = subprocess.run([sys.executable, "-c", _EXIT_PROBE, *argv], capture_output=True,
                         text=True, check=True, env=env).stdout.split()
    assert out[0] == "0" and out[2] == (user or "1"), out
    if user is None:
        assert out[3] == "1", out  # no OpenBLAS worker threads (nor any other)
    other = subprocess.run([sys.executable, "-c", _EXIT_PROBE, "list", "hardware"],
                           capture_output=True, text=True, check=True, env=env).stdout.split()
    assert other[2] == (user or "-"), other  # other commands leave the environment alone
