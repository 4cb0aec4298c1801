"""Lazy package attributes (PEP 562), so importing a package (``wikiart``, a job package whose
``job.py`` the command line reads) does not import torch or the modules behind its names."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` for ``exports`` (public name -> the module
    that defines it, or ``"module:attr"`` where the attribute has another name), each imported
    on first use."""
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attr = exports[name].partition(":")
        value = getattr(importlib.import_module(module), attr or name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({n for n in namespace if not n.startswith("_")} | set(exports))

    return __getattr__, __dir__
