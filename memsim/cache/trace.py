"""Memory-trace input: ``.npz`` arrays and valgrind lackey ``--trace-mem=yes`` logs.

A :class:`Trace` holds one row per access: byte address, size in bytes and kind
(``LOAD``, ``STORE``, ``MODIFY`` = lackey's read-modify-write, ``INSTR`` = instruction fetch).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from memsim.errors import InputError
from memsim.jit import njit

LOAD, STORE, MODIFY, INSTR = 0, 1, 2, 3


@dataclass(frozen=True)
class Trace:
    """Accesses in program order: ``addr`` uint64 bytes, ``size`` int64 bytes (≥ 1),
    ``kind`` uint8 (LOAD, STORE, MODIFY, INSTR), one entry per access each. ``size`` may be
    a read-only broadcast view (stride 0) when every access has the same size, as
    :func:`load_npz` gives for a scalar ``size``."""

    addr: np.ndarray
    size: np.ndarray
    kind: np.ndarray

    def __len__(self) -> int:
        return int(self.addr.shape[0])

    def data_only(self) -> "Trace":
        """The trace without instruction fetches."""
        keep = self.kind != INSTR
        return Trace(self.addr[keep], self.size[keep], self.kind[keep])

    def spans(self, line_bytes: int) -> tuple[np.ndarray, np.ndarray]:
        """``(first_line, nlines)`` covered by each access (an access crossing a line boundary
        covers every line it touches)."""
        first = self.addr // np.uint64(line_bytes)
        last = (self.addr + self.size.astype(np.uint64) - np.uint64(1)) // np.uint64(line_bytes)
        return first.view(np.int64), (last - first).astype(np.int64) + 1


@njit(cache=True)
def _count_spans(kind, keep_instr, cachegrind):
    """``(m, plain)``: how many accesses :func:`_fill_spans` writes for these kinds, and whether
    every kind is a load or a store (then its output kinds are the input kinds, unchanged)."""
    m = 0
    plain = True
    for i in range(kind.shape[0]):
        k = kind[i]
        if k == 3:
            plain = False
            if keep_instr:
                m += 1
        elif k == 2:
            plain = False
            m += 1 if cachegrind else 2
        else:
            m += 1
    return m, plain


@njit(cache=True)
def _fill_spans(addr, size, kind, line_bytes, keep_instr, cachegrind, first, nl, kinds):
    """One pass over a trace: fill ``first`` (first line of each access), ``nl`` (lines it
    covers) and ``kinds`` as the cache kernels take them; ``nl`` or ``kinds`` may be empty
    (not written). Returns whether some access covers more than one line. ``size``: one size
    per access, or one for all (length 1). The arrays come from numpy (large ones get huge
    pages there: ≈ 7700 fewer page faults per 3.5 M accesses than an allocation in here).

    Instruction fetches are dropped unless ``keep_instr`` (kept ones are loads outside
    cachegrind mode). cachegrind rules: kinds 0 load,
    1 store, 2 instruction fetch; a modify counts as one load (cg_sim.c). Other modes: a modify
    becomes a load then a store of the same bytes (lackey's read-modify-write), so the output
    can be longer than the input (``_count_spans`` gives its length).
    """
    n = addr.shape[0]
    step = 1 if size.shape[0] == n else 0  # per access, or one size for all
    put_nl = nl.shape[0] > 0
    put_kinds = kinds.shape[0] > 0
    multi = False
    lb = np.uint64(line_bytes)
    pow2 = line_bytes & (line_bytes - 1) == 0
    sh = np.uint64(0)
    while pow2 and (np.uint64(1) << sh) < lb:
        sh += np.uint64(1)
    j = 0
    for i in range(n):
        k = kind[i]
        if k == 3 and not keep_instr:
            continue
        end = addr[i] + np.uint64(size[i * step] - 1)
        if pow2:  # a shift, not a 64-bit division: 5-8x faster per access
            f = addr[i] >> sh
            c = np.int64((end >> sh) - f) + 1
        else:
            f = addr[i] // lb
            c = np.int64(end // lb - f) + 1
        multi |= c != 1
        if k == 2 and not cachegrind:
            first[j] = np.int64(f)
            if put_nl:
                nl[j] = c
            if put_kinds:
                kinds[j] = 0
            j += 1
            kd = 1
        elif k == 3:
            kd = 2 if cachegrind else 0  # a kept fetch is a load outside cachegrind mode
        elif k == 1:
            kd = 1
        else:
            kd = 0
        first[j] = np.int64(f)
        if put_nl:
            nl[j] = c
        if put_kinds:
            kinds[j] = kd
        j += 1
    return multi


def prepare_spans(trace: "Trace", line_bytes: int, instructions: bool,
                  cachegrind: bool) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """``(first_line, nlines, kinds)`` of ``trace`` for :meth:`Hierarchy.access_spans`, in one
    compiled pass (see :func:`_fill_spans` for the modify and instruction rules).
    ``nlines`` is None when every access covers exactly one line (then no per-access line
    counts are written: a second pass writes them when some access crosses a line); ``kinds``
    is ``trace.kind`` itself when it holds only loads and stores."""
    addr = np.ascontiguousarray(trace.addr, dtype=np.uint64)
    size = trace.size
    if size.shape != addr.shape:
        raise ValueError(f"one size per access needed (got {size.shape} for {addr.shape})")
    if size.shape[0] > 1 and size.strides[0] == 0:  # one size broadcast to every access
        size = np.array(size[:1], dtype=np.int64)
    else:
        size = np.ascontiguousarray(size, dtype=np.int64)
    kind = np.ascontiguousarray(trace.kind, dtype=np.uint8)
    line, keep, cg = int(line_bytes), bool(instructions), bool(cachegrind)
    m, plain = _count_spans(kind, keep, cg)
    first = np.empty(m, np.int64)
    kinds = kind if plain else np.empty(m, np.uint8)
    none = np.empty(0, np.int64), np.empty(0, np.uint8)
    multi = _fill_spans(addr, size, kind, line, keep, cg, first, none[0],
                        none[1] if plain else kinds)
    if not multi:
        return first, None, kinds
    nl = np.empty(m, np.int64)
    _fill_spans(addr, size, kind, line, keep, cg, first, nl, none[1])
    return first, nl, kinds


def load_npz(path: str | Path) -> Trace:
    """Read an ``.npz`` trace: ``addr`` (unsigned/non-negative integer byte addresses), optional
    ``write`` (bool), optional ``size`` (bytes ≥ 1, scalar or per access; default 1)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as err:  # noqa: BLE001 - any unreadable archive is the user's input
        raise InputError(f"not a readable .npz archive ({err})", path=path) from err
    if "addr" not in arrays:
        raise InputError(f"missing array 'addr' (got {sorted(arrays)})", field="addr", path=path)
    unknown = set(arrays) - {"addr", "write", "size"}
    if unknown:
        raise InputError(f"unknown arrays (got {sorted(unknown)}; allowed addr, write, size)",
                         path=path)
    addr = arrays["addr"]
    if addr.ndim != 1 or addr.dtype.kind not in "ui":
        raise InputError(f"must be a 1-D integer array (got {addr.dtype} shape {addr.shape})",
                         field="addr", path=path)
    if addr.dtype.kind == "i" and addr.size and addr.min() < 0:
        raise InputError("addresses must be non-negative", field="addr", path=path)
    n = addr.shape[0]
    if "write" in arrays:
        w = arrays["write"]
        if w.shape != (n,) or w.dtype.kind not in "bui":
            raise InputError(f"must be a bool array as long as addr (got {w.dtype} shape "
                             f"{w.shape})", field="write", path=path)
        # STORE == 1, LOAD == 0: 0/1 flags are the kinds; a bool array's bytes (checked, a
        # file may hold other values) are used as they are, without a copy
        flags = w.view(np.uint8) if w.dtype == np.bool_ else None
        kind = flags if flags is not None and flags.max(initial=0) <= 1 else \
            (w != 0).view(np.uint8)
    else:
        kind = np.zeros(n, dtype=np.uint8)
    s = arrays.get("size", np.int64(1))
    if s.dtype.kind not in "ui" or s.shape not in ((), (n,)):
        raise InputError(f"must be an integer scalar or one per access (got {s.dtype} "
                         f"shape {s.shape})", field="size", path=path)
    if n and s.min() < 1:
        raise InputError(f"sizes must be ≥ 1 byte (got {int(s.min())})", field="size",
                         path=path)
    size = s.astype(np.int64, copy=False)
    if size.ndim == 0:  # one size for all stays one value (a view), not 8 B per access
        size = np.broadcast_to(size, (n,))
    # non-negative int64 addresses have the same bits as uint64 ones: no copy either
    addr = addr.view(np.uint64) if addr.dtype == np.int64 else addr.astype(np.uint64, copy=False)
    return Trace(addr, size, kind)


@njit(cache=True)
def _parse_lackey(buf, addr, size, kind):
    """Parse lackey records; returns (count, bad_line_number) with bad_line_number 0 if fine.

    Records: ``I  hex,dec`` (instruction), `` L hex,dec``, `` S hex,dec``, `` M hex,dec``.
    Lines starting with ``==`` (valgrind's messages) and empty lines are skipped.
    """
    n = buf.shape[0]
    p = 0
    k = 0
    lineno = 0
    while p < n:
        lineno += 1
        e = p
        while e < n and buf[e] != 10:
            e += 1
        q = p
        if e - p == 0 or (e - p >= 2 and buf[p] == 61 and buf[p + 1] == 61):  # "=="
            p = e + 1
            continue
        if e - p >= 4 and buf[p] == 73 and buf[p + 1] == 32:  # "I "
            kd = 3
        elif e - p >= 4 and buf[p] == 32 and buf[p + 2] == 32:
            c = buf[p + 1]
            if c == 76:  # L
                kd = 0
            elif c == 83:  # S
                kd = 1
            elif c == 77:  # M
                kd = 2
            else:
                return k, lineno
        else:
            return k, lineno
        q = p + 2
        while q < e and buf[q] == 32:
            q += 1
        a = np.uint64(0)
        nd = 0
        while q < e and buf[q] != 44:  # ','
            ch = buf[q]
            if 48 <= ch <= 57:
                v = ch - 48
            elif 97 <= ch <= 102:
                v = ch - 87
            elif 65 <= ch <= 70:
                v = ch - 55
            else:
                return k, lineno
            a = (a << np.uint64(4)) | np.uint64(v)
            nd += 1
            q += 1
        if nd == 0 or nd > 16 or q >= e:
            return k, lineno
        q += 1
        s = 0
        nd = 0
        while q < e and 48 <= buf[q] <= 57:
            s = s * 10 + (buf[q] - 48)
            nd += 1
            q += 1
        while q < e and (buf[q] == 32 or buf[q] == 13):
            q += 1
        if nd == 0 or q != e or s < 1:
            return k, lineno
        addr[k] = a
        size[k] = s
        kind[k] = kd
        k += 1
        p = e + 1
    return k, 0


def parse_lackey(data: bytes, path: str | Path | None = None) -> Trace:
    """Parse a valgrind lackey ``--trace-mem=yes`` log (bytes); InputError on a bad line."""
    buf = np.frombuffer(data, dtype=np.uint8)
    cap = int(np.count_nonzero(buf == 10)) + 1
    addr = np.empty(cap, dtype=np.uint64)
    size = np.empty(cap, dtype=np.int64)
    kind = np.empty(cap, dtype=np.uint8)
    count, bad = _parse_lackey(buf, addr, size, kind)
    if bad:
        lines = data.split(b"\n")
        raw = lines[bad - 1] if bad - 1 < len(lines) else b""
        if not _is_text(raw):
            raise InputError("binary data, not a valgrind lackey --trace-mem=yes text log (nor "
                             "a .npz archive)", path=path, line=bad, col=1)
        text = raw[:60].decode("ascii")
        raise InputError(f"not a lackey record (got {text!r}; expected 'I  addr,size' or "
                         "' L|S|M addr,size')", path=path, line=bad, col=1)
    if count == 0:
        raise InputError("no accesses found (expected a .npz trace or a valgrind lackey "
                         "--trace-mem=yes log)", path=path)
    return Trace(addr[:count].copy(), size[:count].copy(), kind[:count].copy())


def load_trace(path: str | Path) -> Trace:
    """Load ``path`` as ``.npz`` (zip magic) or lackey log (anything else), auto-detected.

    A ``.npz`` name without the zip signature is refused as a broken archive (never parsed as a
    log); a log line that is not printable text is reported as binary data, never echoed."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as err:
        raise InputError(f"cannot read trace ({err.strerror})", path=path) from err
    if head.startswith(b"PK"):
        return load_npz(path)
    if path.suffix.lower() == ".npz":
        raise InputError(f"not a .npz archive (no zip signature; first bytes {head.hex(' ')})",
                         path=path)
    return parse_lackey(path.read_bytes(), path=path)


def _is_text(line: bytes) -> bool:
    """Printable ASCII (tabs and a trailing CR allowed): a line worth quoting back."""
    return all(32 <= b < 127 or b in (9, 13) for b in line)
