"""YAML loading with positions, error messages with ``path:line:col``, overrides and dumping.

The loaders of the three config kinds live next to their models and use these helpers:
``memsim.config.hardware.load_hardware``, ``memsim.config.scenario.load_scenario`` and
``memsim.config.kinds.load_any`` (kind detected); import them from ``memsim.config``.

Every failure while reading or validating a config raises ``memsim.errors.InputError`` whose
message is ``path:line:col: dotted.field: problem (got X)``. Nothing else escapes the loaders.
"""

from __future__ import annotations

import difflib
import io
import os
import tempfile
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from memsim.config.base import FieldError
from memsim.fileio import publish_mode
from memsim.errors import InputError

#: config files larger than this are refused before parsing (presets are a few KiB)
MAX_CONFIG_BYTES = 4 * 2**20
#: YAML aliases may expand a small file into a huge tree ("billion laughs"); cap the expansion
MAX_NODES = 200_000

_SRC = "_memsim_source"  # attribute on a CommentedMap inlined from another file by an override
_OVERRIDES = "_memsim_overrides"  # attribute on the root CommentedMap: fields set by overrides


# ----------------------------------------------------------------------------------- reading

def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def _decode(raw: bytes, path) -> str:
    nul = raw.find(b"\x00")
    if nul >= 0:
        line, col = _line_col(raw[:nul].decode("utf-8", "replace"), nul)
        raise InputError("binary file, not YAML text (NUL byte)", path=path, line=line, col=col)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line, col = _line_col(raw[:err.start].decode("utf-8", "replace"), err.start)
        raise InputError(f"not UTF-8 text (byte 0x{raw[err.start]:02x})", path=path, line=line,
                         col=col) from None
    return text


def _count_nodes(data, limit: int) -> None:
    """Raise ValueError if ``data`` expands to more than ``limit`` nodes (alias bombs)."""
    count = 0
    stack = [data]
    while stack:
        node = stack.pop()
        count += 1
        if count > limit:
            raise ValueError(f"more than {limit} values (YAML aliases expand too far)")
        if isinstance(node, dict):
            stack.extend(node.values())
            stack.extend(node.keys())
        elif isinstance(node, list):
            stack.extend(node)


def parse_yaml_text(text: str, path=None):
    """Parse YAML ``text`` (round-trip mode: positions kept, duplicate keys rejected)."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        data = yaml.load(text)
    except Exception as err:  # noqa: BLE001 - every parser failure is the user's input
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        problem = getattr(err, "problem", None) or str(err).strip().splitlines()[0]
        if "found character '\\t'" in str(err) or "\t" in str(problem):
            problem = "tab character: YAML indents with spaces only"
        elif type(err).__name__ == "DuplicateKeyError":
            problem = str(getattr(err, "problem", "duplicate key")).replace("found duplicate",
                                                                             "duplicate")
        elif isinstance(err, RecursionError):
            problem = "nesting too deep"
        line = mark.line + 1 if mark is not None else 0
        col = mark.column + 1 if mark is not None else 0
        if mark is None and hasattr(err, "position"):  # ruamel ReaderError (control characters)
            line, col = _line_col(text, err.position)
        if not problem.startswith("duplicate key"):
            problem = f"YAML syntax error: {problem}"
        raise InputError(problem, path=path, line=line, col=col) from None
    try:
        _count_nodes(data, MAX_NODES)
    except ValueError as err:
        raise InputError(str(err), path=path, line=1, col=1) from None
    return data


def load_yaml(path) -> Any:
    """Read a YAML file with ruamel (positions kept); errors are ``InputError`` with locations."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except OSError as err:
        raise InputError(f"cannot read file ({err.strerror})", path=path) from None
    if path.is_dir():
        raise InputError("is a directory, not a YAML file", path=path)
    if size > MAX_CONFIG_BYTES:
        raise InputError(f"file too large for a config (limit {MAX_CONFIG_BYTES // 2**20} MiB) "
                         f"(got {size} bytes)", path=path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read file ({err.strerror})", path=path) from None
    return parse_yaml_text(_decode(raw, path), path)


# ----------------------------------------------------------------------------- error locations

def _short(value) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if value is None:
        return "nothing"
    text = repr(value) if isinstance(value, str) else str(value)
    if not text:
        return "an empty tagged value"  # e.g. a bare '!!' tag
    return text if len(text) <= 60 else text[:57] + "..."


def _item_label(node, index: int) -> str:
    item = node[index] if isinstance(node, list) and 0 <= index < len(node) else None
    if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"].strip():
        return item["name"]
    return str(index)


def locate(data, loc, path) -> tuple[str, Any, int, int, bool]:
    """Walk ``loc`` through ``data``: (dotted field, file, line, col, from_override).

    Loc parts that are not keys of the data (pydantic union tags) are skipped.
    """
    node, fields, line, col, src, overridden = data, [], 0, 0, path, False
    if isinstance(node, CommentedMap):
        line, col = node.lc.line + 1, node.lc.col + 1
    for part in loc:
        if isinstance(node, dict) and part in node:
            src = getattr(node, _SRC, src)
            fields.append(str(part))
            if isinstance(node, CommentedMap) and part in node.lc.data:
                line, col = (x + 1 for x in node.lc.value(part))
            else:
                overridden = True
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            fields.append(_item_label(node, part))
            if isinstance(node, CommentedSeq) and part in node.lc.data:
                line, col = (x + 1 for x in node.lc.item(part))
            else:
                overridden = True
            node = node[part]
        elif isinstance(part, str) and not part.replace("_", "").isalpha():
            continue  # pydantic's union/function tags such as 'function-after[...]'
        else:
            fields.append(str(part))
            node = None
    src = getattr(node, _SRC, src) if isinstance(node, dict) else src
    return ".".join(fields), src, line, col, overridden


def _unwrap(annotation):
    """Model classes reachable from a type annotation (through Optional, tuple, dict)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if origin in (typing.Union, types.UnionType, tuple, list, dict):
        args = typing.get_args(annotation)
        if origin is dict:
            args = args[1:]
        return [m for a in args if a is not Ellipsis for m in _unwrap(a)]
    return []


def _model_at(root: type[BaseModel], loc) -> type[BaseModel] | None:
    current = [root]
    for part in loc:
        if isinstance(part, int):
            continue
        nxt = []
        for model in current:
            for name, field in model.model_fields.items():
                if part in (name, field.alias):
                    nxt.extend(_unwrap(field.annotation))
        if nxt:
            current = nxt
        elif not any(part in m.model_fields or part in {f.alias for f in m.model_fields.values()}
                     for m in current) and isinstance(part, str):
            # a dict key (e.g. a dtype) or a union tag: stay at the same model
            continue
    return current[0] if current else None


def _valid_keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()
            if not field.exclude]


#: what a missing top-level field should hold, for the "required field missing" message
_MISSING_HINTS = {
    "streams": ": a scenario lists its streams, e.g. streams: [{network: mobilenet_v2, "
               "frames: 5, period: 33.3 ms, deadline: 33.3 ms}]",
    "hardware": ": a scenario names its board, e.g. hardware: ../hardware/raspberry-pi-5.yaml",
    "network": ": a zoo name (memsim list networks) or a .onnx/.csv/.yaml file",
}


def validation_error(err: ValidationError, data, path, root: type[BaseModel]) -> InputError:
    """Turn pydantic's first error into one located ``InputError``."""
    first = err.errors(include_url=False)[0]
    loc = tuple(first["loc"])
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):
        loc = loc + cause.loc
    if first["type"] == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(root, loc[:-1])
        valid = _valid_keys(model) if model else []
        close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(valid)}"
        problem = f"unknown key '{key}' ({hint})"
    elif first["type"] == "missing":
        problem = "required field missing" + _MISSING_HINTS.get(str(loc[-1]) if loc else "", "")
    elif isinstance(cause, Exception):
        problem = str(cause)
    else:
        problem = first["msg"]
        if "(got " not in problem:
            problem += f" (got {_short(first.get('input'))})"
    problem = problem.replace("a valid tuple", "a list").replace("Tuple should", "List should")
    field, src, line, col, overridden = locate(data, loc, path)
    if first["type"] == "extra_forbidden" and isinstance(data, dict):
        parent = data
        for part in loc[:-1]:
            parent = parent[part] if isinstance(parent, (dict, list)) and (
                part in parent if isinstance(parent, dict) else isinstance(part, int)) else None
        if isinstance(parent, CommentedMap) and loc[-1] in parent.lc.data:
            line, col = (x + 1 for x in parent.lc.key(loc[-1]))
    for key, given in (getattr(data, _OVERRIDES, None) or {}).items():
        if field == key or field.startswith(key + "."):
            return InputError(f"{problem} [from override {given}]", field=field, path=path)
    return InputError(problem, field=field, path=src, line=line, col=col)


def require_mapping(data, path, what: str = "config") -> None:
    """Raise the located ``InputError`` for an empty file or a non-mapping top level."""
    if data is None:
        raise InputError(f"empty file: expected a {what} mapping", path=path, line=1, col=1)
    if not isinstance(data, dict):
        line, col = 1, 1
        if getattr(getattr(data, "lc", None), "line", None) is not None:  # ruamel may not know
            line, col = data.lc.line + 1, (data.lc.col or 0) + 1
        raise InputError(f"expected a mapping of keys at the top level (got {_short(data)})",
                         path=path, line=line, col=col)


def validate_data(model: type[BaseModel], data, path=None, *, source_path=None):
    """Validate raw YAML ``data`` as ``model``; every failure is a located ``InputError``."""
    require_mapping(data, path, model.__name__.lower())
    payload = dict(data)
    if source_path is not None:
        payload["source_path"] = Path(source_path)
    try:
        return model.model_validate(payload)
    except ValidationError as err:
        raise validation_error(err, data, path, model) from None
    except RecursionError:
        raise InputError("nesting too deep", path=path, line=1, col=1) from None


# ------------------------------------------------------------------------------------ loaders

#: what each kind of file holds and where it goes, for "wrong kind of file" messages
_KIND_USE = {"hardware": ("a hardware description (compute, memory)",
                          "name it in a scenario's 'hardware:' or pass it to memsim compare"),
             "scenario": ("a scenario (name, hardware, streams)", "run it with memsim run"),
             "sweep": ("a sweep (base, grid)", "run it with memsim sweep")}


def require_kind(data, path, wanted: str) -> None:
    """Refuse a file of another kind (a hardware file given to ``run``) by saying what it is,
    what the command expects and where the file belongs."""
    kind = detect_kind(data)
    if kind is None or kind == wanted:
        return
    what, use = _KIND_USE[kind]
    raise InputError(f"this is {what}, not {_KIND_USE[wanted][0]}; {use}", path=path, line=1,
                     col=1)


def detect_kind(data) -> str | None:
    """``"hardware"``, ``"scenario"``, ``"sweep"`` or None, from the top-level keys."""
    if not isinstance(data, dict):
        return None
    if "streams" in data or "hardware" in data:
        return "scenario"
    if "base" in data or "grid" in data or "zip" in data:
        return "sweep"
    if "compute" in data or "memory" in data:
        return "hardware"
    return None


# ---------------------------------------------------------------------------------- overrides

def parse_override(text: str) -> tuple[str, Any]:
    """Split ``dotted.path=value``; the value is read as a YAML scalar/flow (``8``, ``[0, 1]``,
    ``true``), falling back to the plain string (``1 MiB``)."""
    if "=" not in text:
        raise InputError(f"expected dotted.path=value (got {text!r})", path="--set")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise InputError(f"expected dotted.path=value (got {text!r})", path="--set")
    try:
        value = YAML(typ="safe").load(raw) if raw.strip() else None
    except Exception:  # noqa: BLE001 - not YAML: take the text as it is
        value = raw.strip()
    if isinstance(value, (dict, list)) or value is None or isinstance(value, (bool, int, float)):
        return key, value
    return key, str(value) if not isinstance(value, str) else value


def _inline_hardware(parent: dict, key, base_dir: Path | None, path) -> dict:
    """Replace a scenario's ``hardware: path`` with the file's raw mapping (kept positions)."""
    ref = Path(parent[key]).expanduser()
    if not ref.is_absolute():
        ref = (base_dir or Path.cwd()) / ref
    data = load_yaml(ref.resolve())
    require_mapping(data, ref, "hardware")
    setattr(data, _SRC, ref.resolve())
    parent[key] = data
    return data


def set_path(data: dict, dotted: str, value, *, base_dir=None, path=None) -> None:
    """Set ``dotted`` (``a.b.c``; list entries by index or by ``name``) in raw data, in place.

    Missing mappings on the way are created; a scenario's ``hardware`` given as a file path is
    inlined first so that ``hardware.memory.levels.L2.size`` can be changed.
    """
    parts = dotted.split(".")
    node = data
    labels = []
    for i, part in enumerate(parts[:-1]):
        here = ".".join(parts[:i + 1])
        if isinstance(node, dict):
            child = node.get(part)
            if child is None:
                child = node[part] = CommentedMap()
            elif isinstance(child, str) and part == "hardware" and i == 0:
                child = _inline_hardware(node, part, base_dir, path)
            elif not isinstance(child, (dict, list)):
                raise InputError(f"cannot go into {_short(child)} to set {dotted!r}", field=here,
                                 path=path or "--set")
            node = child
            labels.append(part)
        elif isinstance(node, list):
            index = _list_index(node, part, here, path)
            labels.append(_item_label(node, index))
            node = node[index]
        else:  # pragma: no cover - guarded above
            raise InputError(f"cannot set {dotted!r}", field=here, path=path or "--set")
    last = parts[-1]
    if isinstance(node, list):
        index = _list_index(node, last, dotted, path)
        labels.append(_item_label(node, index))
        node[index] = value
    elif isinstance(node, dict):
        labels.append(last)
        node[last] = value
    else:
        raise InputError(f"cannot set a key inside {_short(node)}", field=dotted,
                         path=path or "--set")
    record = getattr(data, _OVERRIDES, None)
    if record is None and isinstance(data, CommentedMap):
        record = {}
        setattr(data, _OVERRIDES, record)
    if record is not None:
        record[".".join(labels)] = dotted


def _list_index(node: list, part: str, here: str, path) -> int:
    if part.lstrip("-").isdigit():
        index = int(part)
        if -len(node) <= index < len(node):
            return index % len(node)
        raise InputError(f"index {index} out of range (list has {len(node)} entries)", field=here,
                         path=path or "--set")
    names = [item.get("name") for item in node if isinstance(item, dict)]
    if part in names:
        return names.index(part)
    raise InputError(f"no entry named {part!r} (have: {', '.join(map(str, names)) or 'none'})",
                     field=here, path=path or "--set")


def apply_overrides(data, overrides, *, base_dir=None, path=None):
    """Apply ``--set`` overrides to raw YAML data (in place; returned for chaining).

    ``overrides`` is a list of ``"dotted.path=value"`` strings or a mapping ``{dotted: value}``.
    Values from strings are read as YAML (``8`` → int, ``1 MiB`` → string).
    """
    if data is None:
        data = CommentedMap()
    if not isinstance(data, dict):
        raise InputError("overrides need a mapping at the top level", path=path)
    items = overrides.items() if isinstance(overrides, dict) else map(parse_override, overrides)
    for key, value in items:
        set_path(data, key, value, base_dir=base_dir, path=path)
    return data


def plain_data(obj):
    """A deep copy of loaded YAML data as plain dicts and lists (cheaper to copy and edit than
    ruamel's nodes; positions are dropped)."""
    if isinstance(obj, dict):
        return {k: plain_data(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [plain_data(v) for v in obj]
    return obj


# ------------------------------------------------------------------------------------ dumping

def _plain(obj):
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def to_data(model: BaseModel) -> dict:
    """The YAML-able mapping of a config (YAML keys, quantities as unit strings)."""
    return _plain(model.model_dump(by_alias=True, exclude_none=True))


def dumps_yaml(model: BaseModel, header: str | None = None) -> str:
    """Render a config as YAML text that loads back to an equal model."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False
    buf = io.StringIO()
    if header:
        buf.write("".join(f"# {line}\n" for line in header.splitlines()))
    yaml.dump(to_data(model), buf)
    return buf.getvalue()


def dump_yaml(model: BaseModel, path, header: str | None = None) -> Path:
    """Write a config as YAML atomically (temp file + rename); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = dumps_yaml(model, header)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    publish_mode(tmp)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
