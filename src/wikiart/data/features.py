"""The feature cache: embeddings of a frozen backbone, computed once per image (and once for its
mirror image) and kept in one file per backbone and preprocessing, so later runs with other
seeds, heads or imbalance strategies reuse them.

Images are keyed by file path, size and mtime (a changed file is a new key); the file is named by
a digest of the backbone's configuration, its weights (the head excluded) and the preprocessing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from wikiart.data.cache import default_cache_root
from wikiart.errors import WikiartError
from wikiart.files import atomic_open

log = logging.getLogger(__name__)


def feature_file(
    spec: Any,
    state_dict: Mapping[str, torch.Tensor],
    cache_dir: str | os.PathLike[str] | None,
    *,
    skip_prefixes: tuple[str, ...] = ("head.",),
) -> Path:
    """Where embeddings of this exact backbone (``spec``: its JSON-plain configuration and the
    preprocessing; ``state_dict``: its weights, keys under ``skip_prefixes`` left out) live."""
    digest = hashlib.sha1()
    digest.update(json.dumps(spec, sort_keys=True).encode())
    for key, tensor in state_dict.items():
        if not key.startswith(skip_prefixes):
            digest.update(key.encode())
            digest.update(tensor.detach().cpu().numpy().tobytes())
    root = Path(cache_dir) if cache_dir else default_cache_root()
    return root / "features" / f"{digest.hexdigest()[:20]}.pt"


def image_keys(refs: Iterable[Any]) -> list[str]:
    """One key per image reference: its path, size and mtime."""
    return [f"{r.key}|{r.size}|{r.mtime_ns}" for r in refs]


class FeatureStore:
    """Plain and mirrored embeddings by image key, read from one file once and written back
    (atomically) only when something was added. A damaged file is only a cache miss."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.keys: list[str] = []
        self.plain: torch.Tensor | None = None
        self.mirror: torch.Tensor | None = None
        if path.exists():
            try:
                stored = torch.load(path, map_location="cpu", weights_only=True)
                self.keys, self.plain, self.mirror = (
                    stored["keys"],
                    stored["plain"],
                    stored["mirror"],
                )
            except Exception as exc:
                log.warning("ignoring unreadable feature cache %s (%s)", path, exc)
        self._row = {k: i for i, k in enumerate(self.keys)}
        self._dirty = False

    def __contains__(self, key: str) -> bool:
        return key in self._row

    def add(self, keys: Sequence[str], plain: torch.Tensor, mirror: torch.Tensor) -> None:
        """Append embeddings of new keys (rows in the order of ``keys``)."""
        if not keys:
            return
        self.plain = plain if self.plain is None else torch.cat([self.plain, plain])
        self.mirror = mirror if self.mirror is None else torch.cat([self.mirror, mirror])
        for key in keys:
            self._row[key] = len(self.keys)
            self.keys.append(key)
        self._dirty = True

    def save(self) -> None:
        """Write the file if anything was added since it was read."""
        if not self._dirty:
            return
        stored = {"keys": self.keys, "plain": self.plain, "mirror": self.mirror}
        try:
            with atomic_open(self.path, "wb") as fh:
                torch.save(stored, fh)
        except WikiartError as exc:  # a cache: the embeddings are in memory, the work goes on
            log.warning("%s; these embeddings are computed again next time", exc)
            return
        self._dirty = False

    def get(self, keys: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(plain, mirror)`` rows for ``keys`` (each must have been added): views of the store's
        own tensors when the keys are consecutive rows (as for a split the store was filled
        with: no copy of thousands of floats per image), else copies."""
        assert self.plain is not None and self.mirror is not None
        rows = [self._row[k] for k in keys]
        if rows and rows == list(range(rows[0], rows[0] + len(rows))):
            end = rows[0] + len(rows)
            return self.plain[rows[0] : end], self.mirror[rows[0] : end]
        idx = torch.tensor(rows, dtype=torch.long)
        return self.plain[idx], self.mirror[idx]
