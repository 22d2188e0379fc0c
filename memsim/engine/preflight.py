"""Every check ``simulate`` makes before the first event, with errors located in the user's files.

``prepare_checked(scenario)`` is what both ``memsim run`` (through
``engine.simulate``) and ``memsim validate`` call: dtypes supported by the compute unit, each
stream's network loaded and parsed (ONNX, CSV, YAML layer lists), memory plan and mapping built,
and the feasibility checks (cores, arena against memory). Whatever goes wrong is an
``InputError`` at ``scenario.yaml:line:col: streams.N.field: problem`` — a problem found in
another file (a broken ``.onnx``) keeps that file's own message inside the problem text.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from memsim.engine.feasibility import check_dtypes, check_feasible
from memsim.errors import InputError
from memsim.prepare import NETWORK_PARAMS, Prepared, Seeds, prepare_index

#: fields of an error raised by a later stage → the stream field the user wrote
_STREAM_FIELDS = {"dtype", "batch", "network", "cores", "frames", *NETWORK_PARAMS}
_RENAMED = {"compute.macs_per_cycle": "dtype"}


def _loc(dotted: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in dotted.split(".") if p)


def locate_field(scenario, dotted: str) -> tuple[Path | None, int, int]:
    """(file, line, col) of the dotted field in the scenario's YAML (or its hardware file)."""
    from memsim.config.loader import load_yaml, locate

    path = getattr(scenario, "source_path", None)
    loc = _loc(dotted)
    hw_path = getattr(scenario, "hardware_path", None)
    if loc[:1] == ("hardware",) and hw_path is not None:
        path, loc = hw_path, loc[1:]
    if path is None:
        return None, 0, 0
    try:
        data = load_yaml(path)
    except InputError:
        return Path(path), 0, 0
    _field, src, line, col, _over = locate(data, loc, path)
    return Path(src), line, col


def _in_user_config(err: InputError, scenario) -> bool:
    """True when ``err`` already points at a line of the scenario or its hardware file."""
    where = err.location
    if where.path is None or not where.line:
        return False
    mine = {str(p) for p in (getattr(scenario, "source_path", None),
                             getattr(scenario, "hardware_path", None)) if p is not None}
    return str(Path(where.path).resolve()) in mine


def relocate(err: InputError, scenario, field: str) -> InputError:
    """``err`` re-raised at ``field`` of the scenario (its own message kept when it came from
    another file); an error already located in the scenario or hardware file is kept."""
    if _in_user_config(err, scenario):
        return err
    path, line, col = locate_field(scenario, field)
    if path is None:
        return err
    foreign = err.location.path is not None and str(err.location.path) != str(path)
    problem = err.message if foreign else err.problem
    if not foreign and err.field and not field.endswith(err.field):
        problem = f"{err.field}: {problem}"  # e.g. a network builder's own parameter name
    return type(err)(problem, field=field, path=path, line=line, col=col)


def stream_field(index: int, err: InputError) -> str:
    """The stream field to blame for ``err`` raised while preparing stream ``index``."""
    if err.field.startswith(f"streams.{index}."):
        return err.field
    name = _RENAMED.get(err.field, err.field.split(".")[0] if err.field else "")
    return f"streams.{index}.{name if name in _STREAM_FIELDS else 'network'}"


@contextlib.contextmanager
def located(scenario, index: int | None = None):
    """Re-raise an ``InputError`` of the block at a located field: stream ``index``'s field
    (see ``stream_field``) or, without ``index``, the error's own dotted field."""
    try:
        yield
    except InputError as err:
        target = stream_field(index, err) if index is not None else err.field
        if not target:
            raise
        raise relocate(err, scenario, target) from None


def prepare_checked(scenario, passes=()) -> Prepared:
    """``memsim.prepare.prepare(scenario, passes=passes)`` with every pre-simulation check
    before (dtypes) and after (feasibility); any failure is an ``InputError`` located in the
    user's files."""
    streams = []
    for i, stream in enumerate(scenario.streams):
        with located(scenario, index=i):
            check_dtypes(scenario, i, stream)
            streams.append(prepare_index(scenario, i, passes))
    result = Prepared(tuple(streams), Seeds.of(scenario.seed, len(scenario.streams)))
    check_prepared(scenario, result)
    return result


def check_prepared(scenario, prepared: Prepared) -> None:
    """The feasibility checks (cores, arena against memory) of an already prepared scenario,
    errors located in the user's files."""
    with located(scenario):
        check_feasible(scenario, [(s.graph, s.plan) for s in prepared.streams])


def blame_overrides(err: InputError, overrides) -> InputError:
    """``err`` pointed at the ``--set`` override that set its field (the file's line would show
    the value the override replaced), in the loader's ``[from override ...]`` form."""
    from memsim.config.loader import parse_override

    for text in overrides or ():
        key, _value = parse_override(text)
        if err.field == key or err.field.startswith(key + "."):
            return type(err)(f"{err.problem} [from override {text}]", field=err.field,
                             path=err.location.path)
    return err
