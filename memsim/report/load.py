"""``memsim report RESULTS_DIR``: detect a run or a sweep results directory and write its report.

A run directory is what ``Result.save`` writes (``summary.json`` + ``layers.parquet`` ...); a
sweep directory holds ``results.parquet`` and optionally the sweep spec (``sweep.yaml``,
``sweep.resolved.yaml`` or ``spec.json``) giving its name, objectives and swept parameters.
"""

from __future__ import annotations

import json
from pathlib import Path

from memsim.errors import InputError

RUN_FILES = ("summary.json", "layers.parquet", "frames.parquet", "timeline.parquet", "memory.parquet")
SPEC_FILES = ("spec.json", "sweep.resolved.yaml", "sweep.yaml")


def detect(directory: str | Path) -> str:
    """``"run"`` or ``"sweep"``; raises ``InputError`` for anything else."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError("not a directory (expected a run or sweep results directory)", path=directory)
    if (directory / "results.parquet").is_file():
        return "sweep"
    if all((directory / name).is_file() for name in RUN_FILES):
        return "run"
    present = sorted(p.name for p in directory.iterdir())[:8]
    raise InputError("neither a run results directory (summary.json, layers.parquet, ...) nor a "
                     f"sweep directory (results.parquet) (got {', '.join(present) or 'an empty directory'})",
                     path=directory)


def sweep_spec_info(directory: Path) -> dict:
    """The sweep's name/objectives/grid/zip from a spec file in ``directory`` (empty if none)."""
    for name in SPEC_FILES:
        path = directory / name
        if not path.is_file():
            continue
        try:
            if name.endswith(".json"):
                data = json.loads(path.read_text())
            else:
                from ruamel.yaml import YAML

                data = YAML(typ="safe").load(path.read_text())
        except Exception as err:  # noqa: BLE001 - a broken spec is the user's input
            raise InputError(f"cannot read the sweep spec: {err}", path=path) from None
        if isinstance(data, dict):
            info = {k: data[k] for k in ("name", "objectives", "grid", "zip", "parameters", "heatmap")
                    if k in data}
            info.setdefault("name", directory.name)
            return info
    return {"name": directory.name}


def load_report_input(directory: str | Path):
    """(kind, payload): ``("run", Result)`` or ``("sweep", (results DataFrame, spec info))``."""
    directory = Path(directory)
    kind = detect(directory)
    if kind == "run":
        from memsim.engine.result import Result

        try:
            return kind, Result.load(directory)
        except (OSError, ValueError, KeyError) as err:
            raise InputError(f"cannot read the run results: {err}", path=directory) from None
    import pandas as pd

    try:
        df = pd.read_parquet(directory / "results.parquet")
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read results.parquet: {err}", path=directory / "results.parquet") from None
    return kind, (df, sweep_spec_info(directory))


def figures_for(kind: str, payload) -> list:
    """The report figures of a loaded input (for PNG export)."""
    if kind == "run":
        from memsim.report.run import run_figures

        return run_figures(payload)
    from memsim.report.sweep import sweep_figures

    return sweep_figures(*payload)


def write_report_from_dir(directory: str | Path, path: str | Path | None = None, *,
                          png_dir: str | Path | None = None) -> Path:
    """Write the report of a run or sweep directory to ``path`` (default ``<dir>/report.html``).

    With ``png_dir``, every figure is also exported as PNG there (needs a Chromium browser).
    """
    directory = Path(directory)
    kind, payload = load_report_input(directory)
    out = Path(path) if path is not None else directory / "report.html"
    if png_dir is not None:
        from memsim.report.png import require_browser

        require_browser()  # fail before writing anything
    if kind == "run":
        from memsim.report.run import write_run_report

        write_run_report(payload, out)
    else:
        from memsim.report.sweep import write_sweep_report

        write_sweep_report(payload[0], payload[1], out)
    if png_dir is not None:
        from memsim.report.png import export_png

        export_png(figures_for(kind, payload), png_dir)
    return out
