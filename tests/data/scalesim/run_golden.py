"""Run SCALE-Sim 3.0.0 on one topology / array / dataflow and append rows to a CSV."""
import sys, os, csv, warnings
warnings.simplefilter("ignore")
from scalesim.scale_sim import scalesim

def cfg_text(rows, cols, df, name):
    return f"""[general]
run_name = {name}

[architecture_presets]
ArrayHeight:    {rows}
ArrayWidth:     {cols}
IfmapSramSzkB:    8192
FilterSramSzkB:   8192
OfmapSramSzkB:    8192
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Dataflow : {df}
Bandwidth : 10
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""

def main(topo, kind, rows, cols, df, out_csv):
    rows, cols = int(rows), int(cols)
    base = os.path.splitext(os.path.basename(topo))[0]
    name = f"{base}_{rows}x{cols}_{df}"
    work = f"/tmp/ssgold/runs/{name}"
    os.makedirs(work, exist_ok=True)
    cfg = f"{work}/cfg.cfg"
    open(cfg, "w").write(cfg_text(rows, cols, df, name))
    # layout CSV: one row per topology row (name + 20 ints); only parsed, custom layouts are off
    layout = f"{work}/layout.csv"
    lines = open(topo, encoding="utf-8-sig").read().strip().splitlines()
    with open(layout, "w") as f:
        f.write("header" + ",x" * 20 + ",\n")
        for ln in lines[1:]:
            f.write(ln.split(",")[0] + ",1" * 20 + ",\n")
    s = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topo, layout=layout,
                 input_type_gemm=(kind == "gemm"))
    s.run_scale(top_path=work)
    rep = f"{work}/{name}/COMPUTE_REPORT.csv"
    topo_rows = {ln.split(",")[0].strip(): ln.rstrip(",").split(",")[1:] for ln in lines[1:]}
    with open(rep) as f, open(out_csv, "a") as out:
        r = list(csv.reader(f))
        hdr = [h.strip() for h in r[0]]
        names = list(topo_rows)
        for i, row in enumerate(r[1:]):
            d = dict(zip(hdr, [x.strip() for x in row]))
            nm = names[i]
            out.write(",".join([kind, nm] + [x.strip() for x in topo_rows[nm]] +
                               [str(rows), str(cols), df, d["Total Cycles"], d["Stall Cycles"]]) + "\n")
    print("done", name, flush=True)

if __name__ == "__main__":
    main(*sys.argv[1:])
