"""Settings in and out: a job's configuration resolved from its dataclass defaults <- a preset
<- a TOML file <- flags or API keywords (`build_config`), checked against each field's type and
choices; saved as ``config.json`` in the run folder; printed as TOML (`to_toml`) that
``--config`` reads back to the same configuration; and compared on ``--resume``.

A section's settings (``data``) may be given nested (``[data] image_size = 64``, as in
``config.json``) or flat (``image_size = 64``, like the flags).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from wikiart.config import LIMITS
from wikiart.errors import WikiartError
from wikiart.files import write_text

C = TypeVar("C")


# -- reading ---------------------------------------------------------------------------------
def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _coerce(name: str, value: Any, tp: Any) -> Any:
    """Check (and gently convert) one TOML/flag value against the field's type."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(name, value, args[0])
    if origin is list:
        (item,) = typing.get_args(tp)
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if not isinstance(value, list):
            raise WikiartError(f"config {name!r}: expected a list, got {value!r}")
        return [_coerce(name, v, item) for v in value]
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise WikiartError(f"config {name!r}: expected true or false, got {value!r}")
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    wrong_type = tp in (int, float, str) and not isinstance(value, tp)
    if wrong_type or (isinstance(value, bool) and tp in (int, float)):
        raise WikiartError(f"config {name!r}: expected {tp.__name__}, got {value!r}")
    return value


def _check_choice(f: dataclasses.Field[Any], value: Any) -> None:
    choices = f.metadata.get("choices")
    for item in value if isinstance(value, list) else [value]:
        if choices and item is not None and item not in choices:
            raise WikiartError(f"unknown {f.name} {item!r}; expected one of {', '.join(choices)}")


def _in_file(where: str, message: str) -> str:
    """``message`` prefixed with the TOML file (and table) it comes from, if any."""
    return message if where.startswith("settings") else f"{where}: {message}"


def _check_limit(where: str, f: dataclasses.Field[Any], value: Any, default: Any) -> None:
    """A numeric setting inside its range (the field's own, else its name's in `LIMITS`; each
    item of a list); the job's own default always passes."""
    limit = f.metadata.get("limit") or LIMITS.get(f.name)
    if limit is None or value is None or value == default:
        return
    items = value if isinstance(value, list) else [value]
    flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
    prefix = _in_file(where, "")
    if isinstance(value, list) and not value:
        raise WikiartError(f"{prefix}{f.name} ({flag}) needs at least one value")
    for item in items:
        if isinstance(item, int | float) and not limit.allows(item):
            raise WikiartError(
                f"{prefix}{f.name} ({flag}) must be {limit.describe(isinstance(item, int))}, "
                f"got {item!r}"
            )


def _nested(types_: dict[str, Any]) -> dict[str, Any]:
    return {k: tp for k, tp in types_.items() if dataclasses.is_dataclass(tp)}


def from_dict(
    cls: type[C],
    values: dict[str, Any],
    where: str = "config",
    defaults: dict[str, Any] | None = None,
) -> C:
    """Build ``cls`` from a dict; unknown keys are an error naming valid ones, a value outside
    its range (`wikiart.config.LIMITS`) or of the wrong type an error naming the setting.
    Settings of a nested section (``data``) may be given nested (``{"data": {"image_size":
    64}}``) or flat (``{"image_size": 64}``, `_nest`); a flat ``data`` that is not a table is
    the dataset path. ``defaults``: the values the job itself would use (always allowed)."""
    types_ = _field_types(cls)
    nested = _nested(types_)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    if defaults is None:
        defaults = {
            f.name: f.default if f.default is not dataclasses.MISSING else None
            for f in fields.values()
        }
    kwargs: dict[str, Any] = {}
    for key, value in _nest(cls, values).items():
        if key in nested:
            if not isinstance(value, dict):
                raise WikiartError(f"{where}: [{key}] must be a table")
            factory = typing.cast(Callable[[], Any], fields[key].default_factory)
            base = dataclasses.asdict(factory())
            kwargs[key] = from_dict(nested[key], {**base, **value}, f"{where} [{key}]", base)
        elif key in types_:
            try:
                kwargs[key] = _coerce(key, value, types_[key])
                _check_choice(fields[key], kwargs[key])
            except WikiartError as exc:
                raise WikiartError(_in_file(where, str(exc))) from None
            _check_limit(where, fields[key], kwargs[key], defaults.get(key))
        else:
            inner = {k for tp in nested.values() for k in _field_types(tp)}
            valid = sorted((set(types_) - set(nested)) | inner)
            raise WikiartError(f"{where}: unknown setting {key!r}; valid settings: {valid}")
    return cls(**kwargs)


def load_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise WikiartError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise WikiartError(f"config file {path} is a folder, not a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise WikiartError(f"config file {path} is not valid TOML: {exc}") from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        key = key.replace("-", "_")
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _nest(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """Flat keys of a nested section moved into it, so later sources merge key by key."""
    types_ = _field_types(cls)
    nested = _nested(types_)
    owners = {k: n for n, tp in nested.items() for k in _field_types(tp)}
    out: dict[str, Any] = {}
    for raw_key, value in values.items():
        key = raw_key.replace("-", "_")
        owner = owners.get(key)
        if key in nested and isinstance(value, dict):
            out[key] = _merge(out.get(key, {}), value)
        elif owner is not None and (key not in types_ or owner == key):
            out[owner] = _merge(out.get(owner, {}), {key: value})
        else:
            out[key] = value
    return out


def build_config(
    cls: type[C],
    config_file: str | os.PathLike[str] | None = None,
    overrides: dict[str, Any] | None = None,
    presets: dict[str, Any] | None = None,
) -> C:
    """Defaults <- ``presets`` <- TOML file <- ``overrides`` (flags or API keywords; ``None``
    values are dropped: a flag left unset does not erase the file's value). Any of them may
    give a section's settings nested or flat."""
    values: dict[str, Any] = load_toml(config_file) if config_file else {}
    merged = _merge(_nest(cls, presets or {}), _nest(cls, values))
    merged = _merge(merged, _nest(cls, _drop_none(overrides or {})))
    return from_dict(cls, merged, str(config_file or "settings"))


def peek(config_file: str | os.PathLike[str] | None, overrides: dict[str, Any], key: str) -> Any:
    """The value of a top-level ``key`` from flags, else the TOML file, else None (to choose
    presets)."""
    if overrides.get(key) is not None:
        return overrides[key]
    if config_file:
        data = {k.replace("-", "_"): v for k, v in load_toml(config_file).items()}
        return data.get(key)
    return None


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            v = _drop_none(v)
            if v:
                out[k] = v
        elif v is not None:
            out[k] = v
    return out


# -- writing ---------------------------------------------------------------------------------
def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def save_config(cfg: Any, run_dir: str | os.PathLike[str]) -> Path:
    """Write ``config.json`` atomically into ``run_dir``."""
    path = Path(run_dir) / "config.json"
    return write_text(path, json.dumps(to_dict(cfg), indent=2, sort_keys=True) + "\n")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string (JSON's escapes are TOML's)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def to_toml(cfg: Any) -> str:
    """The configuration as flat TOML (one ``name = value`` line per setting, with its help as a
    comment); settings left unset (None) are listed as comments. ``--config`` reads it back to
    the same configuration."""
    lines = [f"# wikiart {type(cfg).__name__}: pass this file back with --config FILE", ""]
    for f, value in _flat_fields(cfg):
        help_text = f.metadata.get("help", "")
        if help_text:
            lines.append(f"# {help_text}")
        lines.append(
            f"# {f.name} = (unset)" if value is None else f"{f.name} = {_toml_value(value)}"
        )
    return "\n".join(lines) + "\n"


def _flat_fields(cfg: Any) -> list[tuple[dataclasses.Field[Any], Any]]:
    out: list[tuple[dataclasses.Field[Any], Any]] = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            out.extend(_flat_fields(value))
        else:
            out.append((f, value))
    return out


def _defaults(cfg: Any) -> dict[str, Any]:
    """The top-level settings of ``cfg``'s dataclass that have defaults, as JSON values."""
    out = {}
    for f in dataclasses.fields(cfg):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    plain = {
        k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) and not isinstance(v, type) else v
        for k, v in out.items()
    }
    result: dict[str, Any] = json.loads(json.dumps(plain))
    return result


#: Settings a resumed run may change: they do not alter what is computed.
RESUME_FREE = frozenset({"resume", "overwrite", "device", "loader_workers", "patience", "tta"})


def check_same_run(cfg: Any, out: str | os.PathLike[str]) -> None:
    """``--resume`` continues the same run: refuse settings that would change its course (the LR
    schedule, for one, is laid out over the original number of epochs)."""
    path = Path(out) / "config.json"
    if not path.exists():
        return
    old = json.loads(path.read_text(encoding="utf-8"))
    new = json.loads(json.dumps(to_dict(cfg)))
    # a setting the run predates (a newer version's) continues it at its default value
    old |= {k: v for k, v in _defaults(cfg).items() if k not in old}
    diffs = [
        f"{k}: {old.get(k)!r} -> {v!r}"
        for k, v in new.items()
        if k not in RESUME_FREE and old.get(k) != v
    ]
    if diffs:
        raise WikiartError(
            f"--resume continues the run in {out} with its own settings, but these differ from "
            f"its config.json: {'; '.join(diffs)}. Start a new --out instead."
        )
