"""The report of `wikiart data check`: `CheckReport` and the findings it lists (bad files, exact
duplicate groups, near-duplicate pairs), as JSON-ready dicts and as human-readable text.

A duplicate whose copies sit in different splits is leakage and an error; copies within one split
are warnings.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wikiart.data.dataset import SPLIT_ORDER
from wikiart.data.refs import ImageRef, display
from wikiart.data.scan import SPLIT_ALIASES

#: Duplicate groups and near pairs the text report lists (leaks first); ``--json`` has all: a
#: merged collection of 45,000 paintings had over 2,000, thousands of lines to scroll through.
TEXT_LIST_MAX = 20


# -- the report -------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileItem:
    """One file of the dataset, with the split it belongs to."""

    split: str
    ref: ImageRef

    @property
    def style(self) -> str:
        return self.ref.style

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "style": display(self.ref.style),
            "path": display(self.ref.key),
        }


@dataclass
class BadFile:
    item: FileItem
    reason: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.item.to_dict(), "reason": self.reason, "detail": self.detail}


@dataclass
class DuplicateGroup:
    """Files with identical bytes."""

    items: list[FileItem]

    @property
    def splits(self) -> list[str]:
        return _ordered_splits({i.split for i in self.items})

    @property
    def styles(self) -> list[str]:
        return sorted({i.style for i in self.items})

    @property
    def leak(self) -> bool:
        return len(self.splits) > 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "leak": self.leak,
            "different_styles": len(self.styles) > 1,
            "items": [i.to_dict() for i in self.items],
        }


@dataclass
class NearPair:
    """Two files that are not byte-identical but look the same (perceptual hashes close)."""

    a: FileItem
    b: FileItem
    distance: int

    @property
    def items(self) -> list[FileItem]:
        return [self.a, self.b]

    @property
    def splits(self) -> list[str]:
        return _ordered_splits({self.a.split, self.b.split})

    @property
    def styles(self) -> list[str]:
        return sorted({self.a.style, self.b.style})

    @property
    def leak(self) -> bool:
        return self.a.split != self.b.split

    def to_dict(self) -> dict[str, Any]:
        return {
            "leak": self.leak,
            "distance": self.distance,
            "different_styles": len(self.styles) > 1,
            "items": [self.a.to_dict(), self.b.to_dict()],
        }


def _split_rank(name: str) -> tuple[int, str]:
    return (SPLIT_ORDER.index(name) if name in SPLIT_ORDER else len(SPLIT_ORDER), name)


def _ordered_splits(names: Iterable[str]) -> list[str]:
    return sorted(names, key=_split_rank)


def _item_key(item: FileItem) -> tuple[tuple[int, str], str, str]:
    return (_split_rank(item.split), item.ref.style, item.ref.key)


@dataclass
class CheckReport:
    """Everything `check_dataset` found. Errors make ``exit_code`` 1; warnings do not."""

    root: str
    splits: dict[str, dict[str, int]]
    bad_files: list[BadFile] = field(default_factory=list)
    exact_duplicates: list[DuplicateGroup] = field(default_factory=list)
    near_duplicates: list[NearPair] = field(default_factory=list)
    missing_styles: dict[str, list[str]] = field(default_factory=dict)
    unknown_styles: dict[str, list[str]] = field(default_factory=dict)
    stray_files: list[tuple[str, str]] = field(default_factory=list)  # (split, path)
    empty_styles: dict[str, list[str]] = field(default_factory=dict)
    #: (split, "path (why)"): folders not entered (symbolic links back into the dataset, loops)
    skipped_folders: list[tuple[str, str]] = field(default_factory=list)
    artists: dict[str, Any] = field(default_factory=dict)  # `wikiart.data.resplit.artist_overlap`
    near_threshold: int = 4
    seconds: float = 0.0
    root_path: Path | None = field(default=None, repr=False)

    @property
    def errors(self) -> int:
        return (
            len(self.bad_files)
            + sum(g.leak for g in self.exact_duplicates)
            + sum(p.leak for p in self.near_duplicates)
            + sum(len(v) for v in self.unknown_styles.values())
        )

    @property
    def warnings(self) -> int:
        return (
            sum(not g.leak for g in self.exact_duplicates)
            + sum(not p.leak for p in self.near_duplicates)
            + sum(len(v) for v in self.missing_styles.values())
            + len(self.stray_files)
            + sum(len(v) for v in self.empty_styles.values())
            + len(self.skipped_folders)
        )

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; every path goes through `display`, so odd file names cannot break it."""
        return {
            "root": self.root,
            "splits": self.splits,
            "bad_files": [b.to_dict() for b in self.bad_files],
            "exact_duplicates": [g.to_dict() for g in self.exact_duplicates],
            "near_duplicates": [p.to_dict() for p in self.near_duplicates],
            "near_threshold": self.near_threshold,
            "missing_styles": _display_names(self.missing_styles),
            "unknown_styles": _display_names(self.unknown_styles),
            "stray_files": [{"split": s, "path": display(p)} for s, p in self.stray_files],
            "empty_styles": _display_names(self.empty_styles),
            "skipped_folders": [
                {"split": s, "folder": display(p)} for s, p in self.skipped_folders
            ],
            "artists": self.artists,
            "errors": self.errors,
            "warnings": self.warnings,
        }

    # -- text ----------------------------------------------------------------------------
    def _short(self, path: str) -> str:
        """A path relative to the dataset root when it lies below it (shorter to read)."""
        if self.root_path is not None:
            try:
                rel = os.path.relpath(path, self.root_path)
            except ValueError:
                rel = path
            if not rel.startswith(".."):
                path = rel
        return display(path)

    def _item_line(self, item: FileItem) -> str:
        """``train/Baroque/x.jpg``; the split is added when the path does not show it."""
        short = self._short(item.ref.key)
        if short.split("/", 1)[0] in SPLIT_ALIASES.get(item.split, (item.split,)):
            return short
        return f"{item.split}: {short}"

    def format_text(self) -> str:
        """Human-readable report: one section per kind of problem, every bad file named."""
        lines = [f"Data check of {self.root}"]
        total = sum(s["files"] for s in self.splits.values())
        for name, s in self.splits.items():
            lines.append(f"  {name}: {s['files']} files, {s['styles']} styles")
        lines.append(f"  ({total} files checked in {self.seconds:.1f} s)")

        lines += ["", _heading("Unreadable files", len(self.bad_files), "error")]
        for b in self.bad_files:
            detail = f" ({b.detail})" if b.detail else ""
            lines.append(f"  ERROR {self._item_line(b.item)}: {b.reason}{detail}")

        leaks = sum(g.leak for g in self.exact_duplicates)
        lines += ["", _dup_heading("Exact duplicates", len(self.exact_duplicates), leaks, "group")]
        for g in self.exact_duplicates[:TEXT_LIST_MAX]:
            lines.append(f"  {_dup_label(g)}: {len(g.items)} identical files")
            lines += [f"      {self._item_line(i)}" for i in g.items]
        lines += _more(len(self.exact_duplicates), "groups")

        leaks = sum(p.leak for p in self.near_duplicates)
        title = f"Near duplicates (perceptual hash distance <= {self.near_threshold})"
        lines += ["", _dup_heading(title, len(self.near_duplicates), leaks, "pair")]
        for p in self.near_duplicates[:TEXT_LIST_MAX]:
            lines.append(f"  {_dup_label(p)}: distance {p.distance}")
            lines += [f"      {self._item_line(i)}" for i in p.items]
        lines += _more(len(self.near_duplicates), "pairs")

        n_unknown = sum(len(v) for v in self.unknown_styles.values())
        n_missing = sum(len(v) for v in self.missing_styles.values())
        lines += ["", f"Styles: {_count(n_unknown, 'error')}, {_count(n_missing, 'warning')}"]
        for split, styles in self.unknown_styles.items():
            lines.append(
                f"  ERROR {split} has {len(styles)} style(s) that train lacks (a model trained "
                f"on train cannot know them): {', '.join(map(display, styles))}"
            )
        for split, styles in self.missing_styles.items():
            names = ", ".join(map(display, styles))
            lines.append(f"  WARNING {split} lacks {len(styles)} train style(s): {names}")

        n_empty = sum(len(v) for v in self.empty_styles.values())
        n_layout = len(self.stray_files) + n_empty + len(self.skipped_folders)
        lines += ["", _heading("Layout", n_layout, "warning")]
        for split, path in self.stray_files:
            lines.append(
                f"  WARNING {split}: {self._short(path)} is outside any <Style>/ folder (ignored)"
            )
        for split, styles in self.empty_styles.items():
            for style in styles:
                lines.append(f"  WARNING {split}: style folder {display(style)}/ has no files")
        for split, path in self.skipped_folders:
            lines.append(f"  WARNING {split}: not scanned: {self._short(path)}")

        lines += ["", *self._artist_lines()]
        verdict = "FAILED" if self.exit_code else "OK"
        lines += [
            "",
            f"{verdict}: {_count(self.errors, 'error')}, {_count(self.warnings, 'warning')}",
        ]
        return "\n".join(lines)

    def _artist_lines(self) -> list[str]:
        """Artist overlap between splits: information, neither error nor warning (the course's
        split has it by design), but it says what a test score partly measures."""
        a = self.artists
        total = sum(s["files"] for s in self.splits.values())
        lines = [
            f"Artists (a parquet artist column, else the file name before its first '_'): known "
            f"for {a.get('known', 0)} of {total} files, {a.get('distinct', 0)} distinct"
        ]
        for split, info in a.items():
            if not isinstance(info, dict):
                continue
            n = self.splits.get(split, {}).get("files", 0)
            lines.append(
                f"  {split}: {info['images_by_train_artists']} of {n} files "
                f"({100 * info['share']:.1f}%) by artists also in train "
                f"({info['shared_artists']} artists shared)"
            )
        if any(isinstance(v, dict) and v["images_by_train_artists"] for v in a.values()):
            lines.append(
                "  a test score then partly measures recognising the artist; `wikiart data "
                "split --by artist` makes an artist-disjoint split"
            )
        return lines


def _display_names(by_split: dict[str, list[str]]) -> dict[str, list[str]]:
    return {split: [display(n) for n in names] for split, names in by_split.items()}


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _more(n: int, unit: str) -> list[str]:
    """The line that closes a shortened list."""
    if n <= TEXT_LIST_MAX:
        return []
    return [f"  ... and {n - TEXT_LIST_MAX} more {unit} (--json lists them all)"]


def _heading(title: str, n: int, severity: str) -> str:
    return f"{title}: {_count(n, severity) if n else 'none'}"


def _dup_heading(title: str, n: int, leaks: int, unit: str) -> str:
    if not n:
        return f"{title}: none"
    return (
        f"{title}: {_count(n, unit)}, {leaks} across splits (leak: error), "
        f"{n - leaks} within one split (warning)"
    )


def _dup_label(dup: DuplicateGroup | NearPair) -> str:
    if dup.leak:
        label = f"ERROR leak across {' and '.join(dup.splits)}"
    else:
        label = f"WARNING within {dup.splits[0]}"
    if len(dup.styles) > 1:
        label += f", filed under different styles ({', '.join(map(display, dup.styles))})"
    return label
