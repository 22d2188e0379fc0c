"""``run_sweep``: expand, skip stored points, evaluate the rest on an executor, compact.

Points are grouped so that the ones sharing prepared streams (and, for single-core points, the
cache levels above the last-level cache) land in the same task, in order: a worker then builds
graph, plan, mapping and the upper cache pass once per group (see ``memsim.sweep.worker``).
Each finished point is written to the store as soon as its task returns, so an interrupted
sweep loses at most the tasks in flight; the next run skips every stored point.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import pandas as pd

from memsim.analysis.pareto import pareto_front
from memsim.config import dumps_yaml
from memsim.prepare import prepare_key as prepared_key
from memsim.sweep.executors import make_executor
from memsim.sweep.spec import column_value, expand, load_sweep, sweep_name, value_columns
from memsim.sweep.store import Store
from memsim.version import __version__

DEFAULT_EVALUATOR = "memsim.sweep.worker:evaluate_batch"
#: most points per task (a task's points are lost if its worker dies with the parent)
MAX_CHUNK = 64


def _resolve(name: str):
    module, _, attr = name.partition(":")
    return getattr(importlib.import_module(module), attr)


def _group_key(point) -> tuple:
    scenario = point.scenario
    try:
        pkey = prepared_key(scenario, point.files)
        levels = [lv for lv in scenario.hardware.memory.levels if lv.kind == "cache"]
        upper = tuple((lv.name, lv.size_bytes, lv.ways, lv.policy) for lv in levels[:-1])
    except Exception:  # noqa: BLE001 - grouping is only an optimisation
        return ("", (), point.index)
    return (pkey, upper, 0)


def plan_tasks(points, workers: int, chunk: int | None = None) -> list[list]:
    """Split ``points`` into tasks of at most ``chunk`` points (default: about two tasks per
    worker, ≤ ``MAX_CHUNK``), grouped by shared work.

    Points sharing prepared streams and upper cache levels (``_group_key``) form a group; the
    groups of one prepared key are packed whole, one after the other, into the same tasks
    (a group larger than ``chunk`` is split), so a worker prepares a network once per task
    instead of once per group, and tasks of one prepared key are consecutive.
    """
    if not points:
        return []
    if chunk is None:
        chunk = max(1, min(MAX_CHUNK, math.ceil(len(points) / (2 * max(1, workers)))))
    groups: dict = {}
    for p in points:
        groups.setdefault(_group_key(p), []).append(p)
    by_prepared: dict = {}
    for key, members in groups.items():
        by_prepared.setdefault(key[0] if key[0] else key, []).append(members)
    tasks = []
    for member_groups in by_prepared.values():
        task: list = []
        for members in member_groups:
            for i in range(0, len(members), chunk):
                piece = members[i:i + chunk]
                if task and len(task) + len(piece) > chunk:
                    tasks.append(task)
                    task = []
                task = task + piece
        if task:
            tasks.append(task)
    return tasks


def _task_options(options: dict, task) -> dict:
    """The evaluator options of one task: ``options`` plus ``files``, the content digests
    (path → SHA-256) the expansion computed for the task's points, so the worker keys its memos
    by file contents without hashing the files again."""
    files: dict = {}
    for point in task:
        files.update(point.files)
    return {**options, "files": files}


def _row(point, stored: dict, version: str) -> dict:
    row = {"id": point.id, "seed": point.seed}
    for key, value in point.values.items():
        row[key] = column_value(value)
    row.update(stored)
    row["id"] = point.id
    row["memsim_version"] = version
    return row


def _progress(total: int, enabled: bool):
    if not enabled or total == 0:
        return None
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn,
                               TextColumn, TimeElapsedColumn, TimeRemainingColumn)

    class RateColumn(TextColumn):
        def render(self, task):
            speed = task.finished_speed or task.speed
            from rich.text import Text

            return Text(f"{speed * 60:.0f} pts/min" if speed else "-- pts/min")

    progress = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(),
                        TaskProgressColumn(), RateColumn(""), TimeElapsedColumn(),
                        TextColumn("ETA"), TimeRemainingColumn(),
                        console=Console(stderr=True), transient=False)
    progress.start()
    return progress


def run_sweep(spec, out=None, *, executor=None, workers=None, scheduler=None, dask_local=None,
              reuse: bool = True, progress: bool = True, evaluator: str = DEFAULT_EVALUATOR,
              chunk: int | None = None, retry_failed: bool = False) -> dict:
    """Run the sweep file ``spec`` (a path or a loaded ``Sweep``); returns the JSON summary
    ``{"points", "done", "failed", "skipped", "results", "pareto", ...}``.

    ``points``: points of the sweep (after ``exclude``); ``done``/``failed``: points computed
    by this run that succeeded/failed (invalid combinations count as failed); ``skipped``:
    points already in the store, not recomputed (``retry_failed`` recomputes stored failures);
    ``feasible``: stored points that met their deadline; ``results``: the compacted Parquet
    path; ``pareto``: ids of the feasible points on the Pareto front of the objectives.
    """
    sweep = load_sweep(spec) if not hasattr(spec, "grid") else spec
    name = sweep_name(sweep)
    store = Store(Path(out) if out is not None else Path("results") / name)
    points = expand(sweep)
    stored = store.done_ids()
    if retry_failed and stored:
        old = store.read(sorted(stored))
        if not old.empty and "status" in old:
            for pid in old.loc[old["status"] != "ok", "id"]:
                store.path(pid).unlink(missing_ok=True)
                stored.discard(pid)
    version = __version__
    counts = {"done": 0, "failed": 0}
    todo, seen = [], set(stored)
    for p in points:
        if p.id in seen:
            continue
        seen.add(p.id)
        if p.scenario is None:
            store.write(_row(p, {"status": "failed", "error": p.error, "method": None,
                                 "seconds": 0.0}, version))
            counts["failed"] += 1
        else:
            todo.append(p)
    skipped = len({p.id for p in points} & stored)
    bar = _progress(len(todo), progress)
    task_id = bar.add_task("sweep", total=len(todo)) if bar else None
    if todo:
        own = executor is None
        executor = executor or make_executor(workers, scheduler, dask_local)
        fn = _resolve(evaluator)
        options = {"reuse": reuse}
        try:
            by_handle = {}
            for task in plan_tasks(todo, getattr(executor, "workers", 1), chunk):
                handle = executor.submit(fn, [(p.id, p.scenario) for p in task],
                                         _task_options(options, task))
                by_handle[handle] = task
            for handle, rows, error in executor.as_completed():
                task = by_handle.pop(handle)
                if error is not None:  # the whole task failed: record it on each point
                    rows = [{"id": p.id, "status": "failed", "method": None, "seconds": 0.0,
                             "error": f"{type(error).__name__}: {error}"} for p in task]
                for point, row in zip(task, rows):
                    store.write(_row(point, row, version))
                    counts["done" if row.get("status") == "ok" else "failed"] += 1
                if bar:
                    bar.advance(task_id, len(task))
        finally:
            if bar:
                bar.stop()
            if own:
                executor.close()
    elif bar:
        bar.stop()
    table, pareto = compact(sweep, points, store)
    feasible = int(table["feasible"].sum()) if "feasible" in table else 0
    return {"points": len(points), "done": counts["done"], "failed": counts["failed"],
            "skipped": skipped, "feasible": feasible,
            "results": str(store.directory / "results.parquet"), "pareto": pareto,
            "name": name, "directory": str(store.directory)}


def _tidy(table: pd.DataFrame) -> pd.DataFrame:
    """Columns Parquet can hold: an object column mixing types becomes text."""
    for col in table.columns:
        if table[col].dtype == object:
            kinds = {type(v) for v in table[col] if v is not None and not
                     (isinstance(v, float) and math.isnan(v))}
            if len(kinds) > 1 and not kinds <= {int, float}:
                table[col] = table[col].map(lambda v: None if v is None else str(v))
    return table


def compact(sweep, points, store: Store) -> tuple[pd.DataFrame, list]:
    """Write ``results.parquet`` (one row per point, in sweep order) with ``feasible`` and
    ``pareto`` columns, and ``sweep.resolved.yaml``; returns (table, pareto ids)."""
    ids = list(dict.fromkeys(p.id for p in points))
    stored = store.read(ids)
    by_id = {r["id"]: r for r in stored.to_dict("records")} if not stored.empty else {}
    rows = []
    for p in points:
        row = dict(by_id.get(p.id, {"status": "missing"}))
        row.update({"id": p.id, "seed": p.seed, "index": p.index})
        for key, value in p.values.items():
            row[key] = column_value(value)
        rows.append(row)
    table = pd.DataFrame(rows)
    front = ["id", "index", "seed"] + value_columns(sweep) + ["status", "error"]
    table = table[[c for c in front if c in table] + [c for c in table if c not in front]]
    ok = table["status"] == "ok"
    met = table["met"] if "met" in table else pd.Series(True, index=table.index)
    table["feasible"] = ok & (met.map(lambda v: v is not False and v is not None and
                                      not (isinstance(v, float) and math.isnan(v))) |
                              (table.get("deadline_s", pd.Series(index=table.index)).isna()))
    table["feasible"] = table["feasible"] & ok
    table["pareto"] = False
    candidates = table[table["feasible"]].drop_duplicates("id")
    pareto: list = []
    if not candidates.empty and all(k in candidates for k in sweep.objectives):
        labels = pareto_front(candidates, dict(sweep.objectives))
        pareto = [candidates.loc[i, "id"] for i in labels]
        table.loc[table["id"].isin(pareto), "pareto"] = True
    store.write_results(_tidy(table), dumps_yaml(sweep, header=f"resolved sweep {sweep_name(sweep)}"))
    return table, pareto

