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
    ``kind`` uint8 (LOAD, STORE, MODIFY, INSTR)."""

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
def _prepare_spans(addr, size, kind, line_bytes, keep_instr, cachegrind):
    """One pass over a trace: ``(first_line, nlines, kinds)`` as the cache kernels take them.

    Instruction fetches are dropped unless ``keep_instr`` (kept ones are loads outside
    cachegrind mode). cachegrind rules: kinds 0 load,
    1 store, 2 instruction fetch; a modify counts as one load (cg_sim.c). Other modes: a modify
    becomes a load then a store of the same bytes (lackey's read-modify-write), so the output
    can be longer than the input.
    """
    n = addr.shape[0]
    m = 0
    for i in range(n):
        k = kind[i]
        if k == 3:
            if keep_instr:
                m += 1
        elif k == 2 and not cachegrind:
            m += 2
        else:
            m += 1
    first = np.empty(m, np.int64)
    nl = np.empty(m, np.int64)
    kinds = np.empty(m, np.uint8)
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
        end = addr[i] + np.uint64(size[i] - 1)
        if pow2:  # a shift, not a 64-bit division: 5-8x faster per access
            f = addr[i] >> sh
            c = np.int64((end >> sh) - f) + 1
        else:
            f = addr[i] // lb
            c = np.int64(end // lb - f) + 1
        if k == 2 and not cachegrind:
            first[j] = np.int64(f)
            nl[j] = c
            kinds[j] = 0
            j += 1
            kinds[j] = 1
        elif k == 3:
            kinds[j] = 2 if cachegrind else 0  # a kept fetch is a load outside cachegrind mode
        elif k == 1:
            kinds[j] = 1
        else:
            kinds[j] = 0
        first[j] = np.int64(f)
        nl[j] = c
        j += 1
    return first, nl, kinds


def prepare_spans(trace: "Trace", line_bytes: int, instructions: bool,
                  cachegrind: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(first_line, nlines, kinds)`` of ``trace`` for :meth:`Hierarchy.access_spans`, in one
    compiled pass (see :func:`_prepare_spans` for the modify and instruction rules)."""
    addr = np.ascontiguousarray(trace.addr, dtype=np.uint64)
    size = np.ascontiguousarray(trace.size, dtype=np.int64)
    kind = np.ascontiguousarray(trace.kind, dtype=np.uint8)
    return _prepare_spans(addr, size, kind, int(line_bytes), bool(instructions), bool(cachegrind))


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
    kind = np.zeros(n, dtype=np.uint8)
    if "write" in arrays:
        w = arrays["write"]
        if w.shape != (n,) or w.dtype.kind not in "bui":
            raise InputError(f"must be a bool array as long as addr (got {w.dtype} shape "
                             f"{w.shape})", field="write", path=path)
        kind[w.astype(bool)] = STORE
    size = np.ones(n, dtype=np.int64)
    if "size" in arrays:
        s = arrays["size"]
        if s.dtype.kind not in "ui" or s.shape not in ((), (n,)):
            raise InputError(f"must be an integer scalar or one per access (got {s.dtype} "
                             f"shape {s.shape})", field="size", path=path)
        size = np.broadcast_to(s.astype(np.int64), (n,)).copy()
        if n and size.min() < 1:
            raise InputError(f"sizes must be ≥ 1 byte (got {int(size.min())})", field="size",
                             path=path)
    return Trace(addr.astype(np.uint64), size, kind)


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
