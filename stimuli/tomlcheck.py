"""Strict TOML input: read bytes with clear errors, typed fields, and one error format.

Every config the suite reads goes through three pieces:

* :func:`read_toml` / :func:`parse_toml`: the file's bytes, decoded as UTF-8 and parsed as TOML; a
  missing file, a folder, a file that is too large, bytes that are not UTF-8 (with the byte offset)
  and TOML syntax errors (with line and column) all raise :class:`~stimuli.errors.MRDError` naming
  the file.
* :class:`StrictModel` and the annotated types :func:`Number`, :func:`Integer`, :data:`Flag` and
  :func:`Text`: booleans are never numbers, numbers are finite and inside the bounds the error states,
  strings are never numbers and have a length limit; unknown fields are errors.
* :func:`format_errors` / :func:`validate`: every problem on one line,
  ``FILE: field 'a.b[0]' = VALUE: what is allowed``.

Examples
--------
>>> class Timing(StrictModel):
...     stimulus_ms: Number(gt=0, le=60000) = 200.0
...     repeats: Integer(ge=1, le=100) = 1
>>> validate(Timing, {"stimulus_ms": 150}, "exp.toml").stimulus_ms
150.0
>>> validate(Timing, {"stimulus_ms": True, "repeats": 1.5}, "exp.toml")
Traceback (most recent call last):
...
stimuli.errors.MRDError: exp.toml: invalid config
  field 'stimulus_ms' = True: a boolean is not a number; give a number > 0 and <= 60000
  field 'repeats' = 1.5: give a whole number >= 1 and <= 100
>>> validate(Timing, {"stimulus_ms": float("inf")}, "exp.toml")
Traceback (most recent call last):
...
stimuli.errors.MRDError: exp.toml: invalid config
  field 'stimulus_ms' = inf: give a finite number > 0 and <= 60000
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from stimuli.errors import MRDError

MAX_TOML_BYTES = 1_000_000
"""Largest config file read (a config is small; a huge one is a mistake, not a config)."""

Flag = StrictBool
"""``true`` or ``false`` only (no 0/1, no strings)."""

_BOUNDS = "_mrd_bounds"
M = TypeVar("M", bound=BaseModel)


def _bounds_text(ge: float | None, gt: float | None, le: float | None, lt: float | None) -> str:
    parts = []
    if gt is not None:
        parts.append(f"> {gt:g}")
    if ge is not None:
        parts.append(f">= {ge:g}")
    if lt is not None:
        parts.append(f"< {lt:g}")
    if le is not None:
        parts.append(f"<= {le:g}")
    return " and ".join(parts)


def Number(  # noqa: N802 (reads as a type)
    *, ge: float | None = None, gt: float | None = None, le: float | None = None, lt: float | None = None
) -> Any:
    """A finite float (an integer is accepted) within bounds; booleans and strings are refused.

    Examples
    --------
    >>> class C(StrictModel):
    ...     x: Number(ge=0, le=1) = 0.5
    >>> C(x=1).x
    1.0
    """
    return Annotated[
        float,
        Field(strict=True, allow_inf_nan=False, ge=ge, gt=gt, le=le, lt=lt,
              json_schema_extra={_BOUNDS: _bounds_text(ge, gt, le, lt)}),
    ]


def Integer(*, ge: int | None = None, le: int | None = None) -> Any:  # noqa: N802
    """A whole number within bounds; booleans, floats and strings are refused.

    Examples
    --------
    >>> class C(StrictModel):
    ...     n: Integer(ge=0, le=10) = 0
    >>> C(n=3).n
    3
    """
    return Annotated[int, Field(strict=True, ge=ge, le=le, json_schema_extra={_BOUNDS: _bounds_text(ge, None, le, None)})]


def Text(max_length: int = 200, pattern: str | None = None) -> Any:  # noqa: N802
    """A string of at most ``max_length`` characters (optionally matching ``pattern``), no NUL bytes.

    Examples
    --------
    >>> class C(StrictModel):
    ...     name: Text(8) = ""
    >>> C(name="lab").name
    'lab'
    """
    return Annotated[str, Field(strict=True, max_length=max_length, pattern=pattern or r"^[^\x00]*$")]


class StrictModel(BaseModel):
    """Base of every config table: unknown fields are errors, values are frozen.

    Examples
    --------
    >>> class C(StrictModel):
    ...     a: Flag = False
    >>> C(a=True).a
    True
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_toml(data: bytes, source: str | os.PathLike[str], what: str = "config") -> dict[str, Any]:
    """Decode UTF-8 TOML bytes into a dict, or raise :class:`MRDError` naming ``source``.

    Examples
    --------
    >>> parse_toml(b"a = 1", "x.toml")
    {'a': 1}
    >>> parse_toml(b"a = '\\xe9'", "x.toml")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: x.toml: not UTF-8 text (byte 0xe9 at offset 5 cannot be decoded); save the config as UTF-8
    >>> parse_toml(b"a = ", "x.toml")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: x.toml: not valid TOML: Invalid value (at end of document)
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MRDError(
            f"{source}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start} cannot be decoded); "
            f"save the {what} as UTF-8"
        ) from None
    if "\x00" in text:
        raise MRDError(f"{source}: contains a NUL byte at offset {text.index(chr(0))}; not a text file")
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise MRDError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:
        raise MRDError(f"{source}: not valid TOML: nested too deeply") from None


def read_toml(path: str | os.PathLike[str], what: str = "config") -> tuple[dict[str, Any], bytes]:
    """Read a TOML file: ``(data, raw bytes)``, or :class:`MRDError` saying why it cannot be read.

    Examples
    --------
    >>> read_toml("/nonexistent.toml")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: /nonexistent.toml: cannot read config (No such file or directory)
    """
    p = Path(path)
    if p.is_dir():
        raise MRDError(f"{p}: is a folder, not a {what} file")
    try:
        with open(p, "rb") as fh:
            raw = fh.read(MAX_TOML_BYTES + 1)
    except OSError as exc:
        raise MRDError(f"{p}: cannot read {what} ({exc.strerror})") from None
    if len(raw) > MAX_TOML_BYTES:
        raise MRDError(f"{p}: larger than {MAX_TOML_BYTES} bytes; not a {what}")
    return parse_toml(raw, p, what), raw


def where(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as ``a.b[0]``.

    Examples
    --------
    >>> where(("design", "views", 0))
    'design.views[0]'
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.match(r"^[A-Z][A-Za-z]+$", str(part)):  # a union member's class name
            continue
        elif not re.match(r"^(function-\w+|literal|list|union|int|str|float|bool|tuple)\[", str(part)):
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def shown(value: Any, limit: int = 80) -> str:
    """A value as the error shows it (TOML-like, cut at ``limit`` characters).

    Examples
    --------
    >>> print(shown(float("inf")), shown("x" * 100)[-5:])
    inf x...'
    """
    if isinstance(value, float) and not math.isfinite(value):
        text = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    elif isinstance(value, dict):
        text = "{...}"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _message(err: dict[str, Any], bounds: str) -> str:
    kind, value = err["type"], err.get("input")
    rule = f" {bounds}" if bounds else ""
    if kind in ("float_type", "int_type", "float_parsing", "int_parsing", "int_from_float") and isinstance(
        value, bool
    ):
        return f"a boolean is not a number; give a number{rule}"
    if kind == "finite_number":
        return f"give a finite number{rule}"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return f"give a whole number{rule}"
    if kind in ("float_type", "float_parsing"):
        return f"give a number{rule}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"out of range; give a number{rule}" if bounds else err["msg"]
    if kind == "bool_type":
        return "give true or false"
    if kind == "string_type":
        return "give a text in quotes"
    if kind == "string_too_long":
        return f"too long ({len(value)} characters); at most {err['ctx']['max_length']}"
    if kind == "extra_forbidden":
        return "unknown field (check the spelling; see the config reference)"
    if kind == "literal_error":
        return f"give one of {err['ctx']['expected']}"
    return str(err["msg"]).removeprefix("Value error, ")


def _bounds_of(annotation: Any) -> str:
    for meta in get_args(annotation)[1:] if get_origin(annotation) is Annotated else ():
        extra = getattr(meta, "json_schema_extra", None)
        if isinstance(extra, dict) and _BOUNDS in extra:
            return str(extra[_BOUNDS])
    return ""


def _field_bounds(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """The bounds text of the field (or list/tuple element) at ``loc`` (walks nested models), or ''."""
    ann: Any = model
    bounds = ""
    for part in loc:
        fields = getattr(ann, "model_fields", None)
        if isinstance(part, str) and fields is not None and part in fields:
            info = fields[part]
            ann = info.annotation
            extra = info.json_schema_extra
            bounds = str(extra[_BOUNDS]) if isinstance(extra, dict) and _BOUNDS in extra else ""
            for meta in info.metadata:
                extra = getattr(meta, "json_schema_extra", None)
                if isinstance(extra, dict) and _BOUNDS in extra:
                    bounds = str(extra[_BOUNDS])
        elif isinstance(part, int) and get_origin(ann) in (list, tuple):
            args = [a for a in get_args(ann) if a is not Ellipsis]
            ann = args[min(part, len(args) - 1)] if args else Any
            bounds = _bounds_of(ann)
        else:
            continue
    return bounds


def format_errors(
    exc: ValidationError, source: str | os.PathLike[str], model: type[BaseModel] | None = None, what: str = "config"
) -> str:
    """One line per problem: ``FILE: field 'a.b[0]' = VALUE: what is allowed``.

    Examples
    --------
    >>> class C(StrictModel):
    ...     n: Integer(ge=1) = 1
    >>> try:
    ...     C(n=0, m=1)
    ... except ValidationError as e:
    ...     print(format_errors(e, "x.toml", C))
    x.toml: invalid config
      field 'n' = 0: out of range; give a number >= 1
      field 'm' = 1: unknown field (check the spelling; see the config reference)
    """
    lines = [f"{source}: invalid {what}"]
    errors = exc.errors()
    wheres = [where(e["loc"]) for e in errors]
    for err, at in zip(errors, wheres, strict=True):
        if err["type"] == "literal_error" and any(w.startswith(at + ".") for w in wheres):
            continue  # a union's other branch failed deeper down: report that one
        if err["type"] == "missing":
            lines.append(f"  field '{at}': required but missing")
            continue
        bounds = _field_bounds(model, tuple(err["loc"])) if model is not None else ""
        lines.append(f"  field '{at}' = {shown(err.get('input'))}: {_message(err, bounds)}")
    return "\n".join(lines)


def validate(model: type[M], data: Any, source: str | os.PathLike[str], what: str = "config") -> M:
    """``model.model_validate(data)``, or :class:`MRDError` with :func:`format_errors`' lines.

    Examples
    --------
    >>> class C(StrictModel):
    ...     a: Flag = False
    >>> validate(C, {"a": 1}, "x.toml")
    Traceback (most recent call last):
    ...
    stimuli.errors.MRDError: x.toml: invalid config
      field 'a' = 1: give true or false
    """
    if not isinstance(data, dict):
        raise MRDError(f"{source}: invalid {what}: expected a table, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise MRDError(format_errors(exc, source, model, what)) from None
    except RecursionError:
        raise MRDError(f"{source}: invalid {what}: nested too deeply") from None
