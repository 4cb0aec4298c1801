"""Who painted each image, for artist-disjoint splits and the artist-overlap check.

The rule: a parquet shard's ``artist`` column where it has one (class names from the shard's
Hugging Face metadata, or strings); otherwise the file name's prefix before the first ``_``
(WikiArt's ``claude-monet_water-lilies-6.jpg`` -> ``claude-monet``). A name with no ``_``, an
empty prefix, or an artist labelled unknown gives no artist (`None`): such images are each
their own group when splitting, so an unknown painter never ties two images together."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from wikiart.data.refs import ImageRef

log = logging.getLogger(__name__)

ARTIST_COLUMN = "artist"
_UNKNOWN = {"", "unknown", "unknown artist", "unknown-artist", "anonymous", "none", "nan"}


def artist_from_name(name: str) -> str | None:
    """The artist a WikiArt file name starts with (its text before the first ``_``)."""
    stem = os.path.basename(name)
    if "_" not in stem:
        return None
    prefix = stem.split("_", 1)[0].strip()
    return None if prefix.lower() in _UNKNOWN else prefix


def _parquet_artists(shard: str) -> list[str | None] | None:
    """The ``artist`` column of one shard as names, or None when it has no such column."""
    from wikiart.data.parquet_rows import pyarrow_modules
    from wikiart.data.parquet_source import _shard_labels, style_names_from_metadata

    pa, pq = pyarrow_modules()
    try:
        pf = pq.ParquetFile(shard)
    except (OSError, pa.ArrowException):
        return None
    if ARTIST_COLUMN not in pf.schema_arrow.names:
        return None
    try:
        labels, named = _shard_labels(pf, pa, ARTIST_COLUMN)
    except Exception as exc:  # an odd column type: fall back to no artists, said once
        log.warning("%s: unusable %r column (%s)", shard, ARTIST_COLUMN, exc)
        return None
    names = None if named else style_names_from_metadata(pf.schema_arrow.metadata, ARTIST_COLUMN)
    out: list[str | None] = []
    for label in labels:
        if label is None or label == -1:
            out.append(None)
        elif named:
            out.append(str(label))
        elif names is not None and 0 <= int(label) < len(names):
            out.append(names[int(label)])
        else:
            out.append(f"artist-{label}")  # integer ids without names still group
    return [None if a is None or a.strip().lower() in _UNKNOWN else a for a in out]


def artists_of(refs: Sequence[ImageRef]) -> list[str | None]:
    """One artist (or None) per reference, by the rule above."""
    columns: dict[str, list[str | None] | None] = {}
    found: list[str | None] = []
    for r in refs:
        if r.row >= 0:
            if r.path not in columns:
                columns[r.path] = _parquet_artists(r.path)
            column = columns[r.path]
            if column is not None and r.row < len(column):
                found.append(column[r.row])
                continue
            found.append(None)
        else:
            found.append(artist_from_name(r.name))
    return found


def group_keys(refs: Sequence[ImageRef], artists: Sequence[str | None]) -> list[str]:
    """Grouping keys: the artist, or the image itself where the artist is unknown."""
    return [
        f"artist:{a}" if a is not None else f"image:{r.key}"
        for r, a in zip(refs, artists, strict=True)
    ]
