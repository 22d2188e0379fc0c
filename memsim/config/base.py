"""Shared pieces of the config models: the frozen base class and the unit-carrying field types.

A quantity field has a YAML key (the alias, e.g. ``size``) and a Python attribute carrying its unit
(``size_bytes``). Reading by alias needs a unit string (``64 KiB``); a bare number under the alias
is a *missing unit* error. Reading by attribute name (Python callers) takes the number as it is.
``model_dump(by_alias=True)`` renders quantities back as unit strings; ``model_dump()`` gives the
numbers.

``N cycles`` and ``N B/cycle`` are resolved against the clock of the hardware being validated; the
clock is passed down through a context variable that ``Compute``/``Hardware`` set while they
validate (``clock_context``).
"""

from __future__ import annotations

import contextlib
import contextvars
from pathlib import Path
import math
from typing import Annotated, Any, Callable, ClassVar

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, Strict,
                      model_validator)

from memsim import units

_CLOCK: contextvars.ContextVar[int | None] = contextvars.ContextVar("memsim_clock_hz",
                                                                    default=None)

#: dtype names memsim knows (bits per element in memsim.workloads; MAC rates are keyed by these)
DTYPES = ("fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int32", "int16", "int8", "uint8",
          "int4", "int2", "int1")


class FieldError(ValueError):
    """A cross-field problem found by a model validator, pointing at a sub-field.

    ``loc`` is relative to the model that raised it (e.g. ``("levels", 1, "size")``); the loader
    appends it to the model's location so that the message names the exact field and line.
    """

    def __init__(self, loc: tuple, message: str):
        super().__init__(message)
        self.loc = tuple(loc)


@contextlib.contextmanager
def clock_context(clock_hz: int | None):
    """Make ``clock_hz`` the clock that ``cycles`` quantities resolve against (nestable)."""
    token = _CLOCK.set(clock_hz)
    try:
        yield
    finally:
        _CLOCK.reset(token)


def current_clock() -> int | None:
    """The clock set by the innermost ``clock_context`` (None outside hardware validation)."""
    return _CLOCK.get()


def peek_clock(data: Any) -> int | None:
    """Best-effort parse of ``data['clock']`` (or ``clock_hz``) for resolving cycles; None if bad."""
    if not isinstance(data, dict):
        return None
    if "clock" in data:
        try:
            return units.parse_frequency(data["clock"]) or None
        except ValueError:
            return None
    value = data.get("clock_hz")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


class _Unitless:
    """A bare number found under a quantity's YAML key: reported as a missing unit."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _parser(parse: Callable, *, clock: bool = False, integer: bool = True):
    def check(value):
        if isinstance(value, _Unitless):
            parse(value.value)  # raises "missing unit" with the accepted forms
        if isinstance(value, str):
            return parse(value, _CLOCK.get()) if clock else parse(value)
        if isinstance(value, bool):
            raise ValueError(f"expected a quantity with a unit (got {value!r})")
        if not integer and isinstance(value, int):
            return float(value)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"value must be finite (got {value!r})")
        return value
    return check


def _formatter(fmt: Callable):
    def render(value, info):
        if value is None or not info.by_alias:
            return value
        return fmt(value)
    return PlainSerializer(render)


#: bytes (YAML: ``64 KiB``)
Bytes = Annotated[int, BeforeValidator(_parser(units.parse_size)), Strict(), Field(ge=0),
                  _formatter(units.format_size)]
#: picoseconds (YAML: ``80 ns`` or ``4 cycles``)
Picoseconds = Annotated[int, BeforeValidator(_parser(units.parse_time, clock=True)), Strict(),
                        Field(ge=0), _formatter(units.format_time)]
#: Hz (YAML: ``2.4 GHz``)
Hertz = Annotated[int, BeforeValidator(_parser(units.parse_frequency)), Strict(), Field(gt=0),
                  _formatter(units.format_frequency)]
#: bytes per second (YAML: ``25.6 GB/s`` or ``64 B/cycle``)
BytesPerSecond = Annotated[float, BeforeValidator(_parser(units.parse_bandwidth, clock=True,
                                                          integer=False)),
                           Field(gt=0, allow_inf_nan=False), _formatter(units.format_bandwidth)]
#: picojoules (YAML: ``0.2 pJ``)
Picojoules = Annotated[float, BeforeValidator(_parser(units.parse_energy, integer=False)),
                       Field(ge=0, allow_inf_nan=False), _formatter(units.format_energy)]
#: picojoules per byte (YAML: ``20 pJ/B``)
PicojoulesPerByte = Annotated[float, BeforeValidator(_parser(units.parse_energy_per_byte,
                                                             integer=False)),
                              Field(ge=0, allow_inf_nan=False),
                              _formatter(units.format_energy_per_byte)]

PosInt = Annotated[int, Strict(), Field(gt=0)]
NonNegInt = Annotated[int, Strict(), Field(ge=0)]
StrictBool = Annotated[bool, Strict()]
Name = Annotated[str, Strict(), Field(min_length=1, max_length=200)]


class ConfigModel(BaseModel):
    """Frozen, ``extra="forbid"`` base of every config model (see module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              validate_default=False, hide_input_in_errors=False)

    #: fields that describe where a config came from, not what it says (ignored by ``==``)
    _provenance: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _mark_unitless(cls, data):
        """Bare numbers under a quantity's YAML key are missing units, not raw bytes/ps."""
        if not isinstance(data, dict):
            return data
        marked = None
        for name, field in cls.model_fields.items():
            alias = field.alias
            if alias and alias != name and alias in data:
                value = data[alias]
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    marked = dict(data) if marked is None else marked
                    marked[alias] = _Unitless(value)
        return data if marked is None else marked

    def __eq__(self, other):
        if type(self) is not type(other):
            return NotImplemented
        skip = self._provenance
        mine = {k: v for k, v in self.__dict__.items() if k not in skip}
        theirs = {k: v for k, v in other.__dict__.items() if k not in skip}
        return mine == theirs

    __hash__ = None  # dict fields make configs unhashable; compare with ==


_BASE_DIR: contextvars.ContextVar = contextvars.ContextVar("memsim_base_dir", default=None)


@contextlib.contextmanager
def base_dir_context(path):
    """Resolve relative paths in configs against ``path`` (a directory) while validating."""
    from pathlib import Path

    token = _BASE_DIR.set(Path(path) if path is not None else None)
    try:
        yield
    finally:
        _BASE_DIR.reset(token)


def base_dir_context_get():
    """The directory relative paths resolve against (the current directory by default)."""
    from pathlib import Path

    value = _BASE_DIR.get()
    return value if value is not None else Path.cwd()


def resolve_user_file(value, what: str = "file") -> Path:
    """``value`` as an existing file: ``~`` expanded, relative paths resolved against the folder
    of the config file being loaded. Raises ``ValueError`` naming the path when it is missing."""
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base_dir_context_get() / path
    path = path.resolve()
    if not path.is_file():
        raise ValueError(f"{what} not found: {path} (got {value!r})")
    return path


def validate_in_source_dir(data, handler):
    """Run a pydantic ``handler`` with relative paths resolving against the folder of
    ``data["source_path"]`` (the config file being loaded), when it has one."""
    base = None
    if isinstance(data, dict) and data.get("source_path") is not None:
        base = Path(data["source_path"]).resolve().parent
    if base is None:
        return handler(data)
    with base_dir_context(base):
        return handler(data)
