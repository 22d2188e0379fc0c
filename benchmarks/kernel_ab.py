"""A/B of two versions of the cache kernel's batch function on the same traces, interleaved.

    python benchmarks/kernel_ab.py OTHER_KERNEL.py

OTHER_KERNEL.py is another copy of ``memsim/cache/kernel.py`` (e.g. ``git show REV:memsim/cache/
kernel.py > /tmp/k.py``). Both run engine-sized calls (256 lines) over benchmarks/cache.py's
traces (scale 0.5), 1 and 3 levels, default and pycachesim modes; counters and final state must
be identical; prints M accesses/s of this tree's kernel and the other, best of 5 (medians in
brackets), and the other's time over this one's.
Used for issue 18: a split of ``batch`` into inline helpers (commit "Cache kernel: batch split
into inline helpers") against the single function.
"""
import sys, time, importlib.util
import numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from cache import hierarchy, traces
import memsim.cache.kernel as new
spec = importlib.util.spec_from_file_location("kernel_old", sys.argv[1])
old = importlib.util.module_from_spec(spec); spec.loader.exec_module(old)
tr = traces(0.5)
res = {}
for name, (lines, writes) in tr.items():
    for nlev in (1, 3):
        for compat in ("default", "pycachesim"):
            h = hierarchy(nlev, compat)
            st0 = h._st.copy()
            # the kernel variant this hierarchy uses, and the same variant of the other copy
            kn = h._batch
            keyn = [k for k, v in new._BATCH_KERNELS.items() if v is kn][0]
            ko = old._BATCH_KERNELS.get(keyn) or old._BATCH_KERNELS.setdefault(keyn, old._make_batch(*keyn))
            mode = h._mode
            w = writes.view(np.uint8)
            tn, to = [], []
            for rep in range(5):
                for which, fn, ts in (("this", kn, tn), ("other", ko, to)):
                    st = st0.copy(); out = np.zeros(h._out_shape, np.int64)
                    t0 = time.perf_counter()
                    for s in range(0, lines.size, 256):  # engine-sized calls
                        o = np.zeros(h._out_shape, np.int64)
                        fn(mode, 0, lines[s:s+256], w[s:s+256], o, st)
                        out += o
                    ts.append(time.perf_counter() - t0)
                    res[which] = (out.copy(), st.copy())
            assert (res["this"][0] == res["other"][0]).all() and (res["this"][1] == res["other"][1]).all()
            n = lines.size
            print(f"{name:8s} L{nlev} {compat:10s} key {keyn}: this {n/min(tn)/1e6:6.1f} M/s  other {n/min(to)/1e6:6.1f} M/s  other/this time {min(to)/min(tn):.3f}  (medians {n/np.median(tn)/1e6:.1f} / {n/np.median(to)/1e6:.1f})")
