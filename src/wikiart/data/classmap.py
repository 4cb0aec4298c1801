"""The class map: style name <-> class index, fixed by the training split and stored with every run.

Indices are the sorted style names of the training split. Every other split (and every later
evaluation) is mapped *by name* through the stored list, never by re-walking a folder, so a test
folder with fewer styles, or listed in another order, still lines up with the model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wikiart.errors import UnknownStyleError, WikiartError
from wikiart.files import write_json


@dataclass(frozen=True)
class ClassMap:
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.classes:
            raise WikiartError("a class map needs at least one style")
        if len(set(self.classes)) != len(self.classes):
            raise WikiartError(f"duplicate style names in class map: {list(self.classes)}")
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(self.classes)})

    @classmethod
    def from_styles(cls, styles: Iterable[str]) -> ClassMap:
        """The class map of a training split: its distinct style names, sorted."""
        return cls(tuple(sorted(set(styles))))

    def __len__(self) -> int:
        return len(self.classes)

    def __iter__(self) -> Iterator[str]:
        return iter(self.classes)

    def __contains__(self, style: object) -> bool:
        return style in self._index  # type: ignore[attr-defined]

    def index(self, style: str) -> int:
        try:
            index: int = self._index[style]  # type: ignore[attr-defined]
        except KeyError:
            raise UnknownStyleError(
                f"style {style!r} is not among the model's classes {list(self.classes)}"
            ) from None
        return index

    def indices(self, styles: Iterable[str]) -> list[int]:
        return [self.index(s) for s in styles]

    def check(self, styles: Iterable[str], split: str = "split") -> None:
        """Raise `UnknownStyleError` naming every style of ``split`` the model does not know."""
        unknown = sorted(set(styles) - set(self.classes))
        if unknown:
            raise UnknownStyleError(
                f"{split} style(s) {unknown} are not among the model's classes {list(self.classes)}"
            )

    def missing(self, styles: Iterable[str]) -> list[str]:
        """Classes that do not occur in ``styles`` (e.g. a test folder holding a subset)."""
        present = set(styles)
        return [c for c in self.classes if c not in present]

    def to_dict(self) -> dict[str, list[str]]:
        return {"classes": list(self.classes)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassMap:
        classes = data.get("classes") if isinstance(data, dict) else None
        if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
            raise WikiartError("class map must be a JSON object with a list of style names")
        return cls(tuple(classes))

    def save(self, path: str | os.PathLike[str]) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ClassMap:
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise WikiartError(f"cannot read class map {path}: {exc}") from None
