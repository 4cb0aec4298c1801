"""Command-line flags generated from the config dataclasses (`wikiart.config`), so a setting is
declared once: its flag (``--image-size`` for ``image_size``), type, choices and help come from
its field. Everyday settings are listed first in ``--help``; expert knobs under "advanced
options". Unset flags are None and leave the TOML file's or the preset's value alone."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from typing import Any

ADVANCED = "advanced options"
_PREFIX = "cfg."  # argparse dests of generated flags: cfg.<field> or cfg.<section>.<field>


def _base_type(tp: Any) -> Any:
    """``int | None`` -> ``int``; other types unchanged."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0]
    return tp


def _list_of(item: type) -> Callable[[str], list[Any]]:
    def parse(value: str) -> list[Any]:
        try:
            return [item(v) for v in value.split(",") if v]
        except ValueError:
            kind = "integers like 32,64,128" if item is int else f"{item.__name__} values"
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {kind}, got {value!r}"
            ) from None

    return parse


def number(
    kind: type, lo: float | None = None, hi: float | None = None, **open_ends: bool
) -> Callable[[str], int | float]:
    """An argparse ``type`` for a flag outside the configurations: an ``int`` or ``float`` in
    ``lo``..``hi`` (`wikiart.config.Limit`; ``lo_open``/``hi_open``), never NaN or infinity.
    A bad value is argparse's one-line error naming the flag, exit 2."""
    from wikiart.config import Limit

    limit = Limit(lo, hi, **open_ends)
    integer = kind is int

    def parse(text: str) -> int | float:
        try:
            value: int | float = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if integer else 'a number'}, got {text!r}"
            ) from None
        if not limit.allows(value):
            raise argparse.ArgumentTypeError(f"must be {limit.describe(integer)}, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


class ConfigHelpFormatter(argparse.HelpFormatter):
    """Adds each generated flag's default to its help when the help is printed (not when the
    parser is built): "the preset's" for the settings ``preset_keys()`` names, which may import
    heavy modules, so that parsing any command stays fast."""

    preset_keys: Callable[[], Iterable[str]] = staticmethod(frozenset)
    preset_note: str = "the preset's"

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        field_name = getattr(action, "config_field", None)
        if not text or field_name is None:
            return text
        default = getattr(action, "config_default", None)
        if field_name in type(self).preset_keys():
            return f"{text} (default: {self.preset_note})"
        if default not in (None, "") and not isinstance(default, bool):
            return f"{text} (default: {default})"
        return text


def _flag_kwargs(f: dataclasses.Field[Any], tp: Any, flag: str) -> dict[str, Any]:
    meta = f.metadata
    kw: dict[str, Any] = {
        "help": meta.get("help") or None,
        "default": None,
        "metavar": meta.get("metavar") or flag.lstrip("-").upper().replace("-", "_"),
    }
    base = _base_type(tp)
    if base is bool:
        kw["action"] = argparse.BooleanOptionalAction
        del kw["metavar"]
    elif typing.get_origin(base) is list and meta.get("many"):
        (kw["type"],) = typing.get_args(base)
        kw["nargs"] = "+"
    elif typing.get_origin(base) is list:
        (item,) = typing.get_args(base)
        kw["type"] = _list_of(item)
        kw["metavar"] = "A,B,..."
    else:
        kw["type"] = base
    if meta.get("choices"):
        kw["choices"] = meta["choices"]
        del kw["metavar"]
    if meta.get("required") and not meta.get("positional"):
        kw["required"] = True
    return kw


def add_config_flags(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    skip: tuple[str, ...] = (),
    preset_keys: Callable[[], Iterable[str]] = frozenset,
    preset_note: str = "the preset's",
) -> None:
    """One flag per field of ``cls`` (and of its nested sections), everyday ones in the parser's
    main group, advanced ones in an "advanced options" group. Help shows each field's default,
    or ``preset_note`` for the settings ``preset_keys()`` (called only to print help) names."""
    formatter: type[ConfigHelpFormatter] = type(
        "ConfigHelp",
        (ConfigHelpFormatter,),
        {"preset_keys": staticmethod(preset_keys), "preset_note": preset_note},
    )
    parser.formatter_class = formatter
    advanced = parser.add_argument_group(ADVANCED)
    for path, f, tp in _walk(cls):
        meta = f.metadata
        if not meta.get("cli", True) or f.name in skip:
            continue
        flag = meta.get("flag") or "--" + f.name.replace("_", "-")
        group = advanced if meta.get("advanced") else parser
        dest = _PREFIX + ".".join(path)
        kwargs = _flag_kwargs(f, tp, flag)
        if meta.get("positional"):  # argparse names a positional's destination after it
            kwargs["metavar"] = f.name.upper()
            action = group.add_argument(dest, **kwargs)
        else:
            action = group.add_argument(flag, dest=dest, **kwargs)
        action.config_field = f.name  # type: ignore[attr-defined]
        action.config_default = None if f.default is dataclasses.MISSING else f.default  # type: ignore[attr-defined]


def _walk(
    cls: type, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], dataclasses.Field[Any], Any]]:
    """``(path, field, type)`` of every setting, a nested section's (the data) first."""
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    for f in sorted(fields, key=lambda f: not dataclasses.is_dataclass(hints[f.name])):
        tp = hints[f.name]
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            yield from _walk(tp, (*prefix, f.name))
        else:
            yield (*prefix, f.name), f, tp


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The generated flags the user gave, as a nested dict for `wikiart.config.build_config`."""
    out: dict[str, Any] = {}
    for dest, value in vars(args).items():
        if not dest.startswith(_PREFIX) or value is None:
            continue
        *sections, name = dest[len(_PREFIX) :].split(".")
        node = out
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = value
    return out
