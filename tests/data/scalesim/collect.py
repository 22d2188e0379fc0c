"""Collect SCALE-Sim COMPUTE_REPORT.csv files into one golden CSV (DP layers expanded per channel)."""
import csv, glob, os, re
out = ["kind,layer,a,b,c,d,e,f,g,rows,cols,dataflow,total_cycles,stall_cycles"]
for rep in sorted(glob.glob("runs/*/*/COMPUTE_REPORT.csv")):
    name = rep.split("/")[1]
    m = re.match(r"(topo_\w+?)_(\d+)x(\d+)_(os|ws|is)$", name)
    topo, rows, cols, df = m.group(1), m.group(2), m.group(3), m.group(4)
    kind = "gemm" if topo == "topo_gemm" else "conv"
    layers = []
    for ln in open(topo + ".csv", encoding="utf-8-sig").read().strip().splitlines()[1:]:
        f = [x.strip() for x in ln.split(",")[:-1]]
        if "DP" in f[0]:   # SCALE-Sim splits DP layers into C single-channel layers
            for ch in range(int(f[5])):
                g = list(f); g[0] = f"{f[0]}Channel_{ch}"; g[5] = "1"; layers.append(g)
        else:
            layers.append(f)
    r = list(csv.reader(open(rep)))
    hdr = [h.strip() for h in r[0]]
    body = r[1:]
    assert len(body) == len(layers), (rep, len(body), len(layers))
    for lay, row in zip(layers, body):
        d = dict(zip(hdr, [x.strip() for x in row]))
        vals = lay[1:] + [""] * (7 - len(lay[1:]))
        out.append(",".join([kind, lay[0]] + vals + [rows, cols, df, d["Total Cycles"], d["Stall Cycles"]]))
open("golden.csv", "w").write("\n".join(out) + "\n")
print(len(out) - 1, "rows")
