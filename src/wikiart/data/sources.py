"""Extra dataset sources: ArtGAN split CSVs and Hugging Face parquet shards, as `ImageRef`s.

ArtGAN (cs-chan/ArtGAN, "WikiArt Dataset/Style") ships ``style_train.csv`` / ``style_val.csv``:
rows ``Style/file.jpg,class_index``, no header, CRLF, a few hundred names with non-ASCII (partly
garbled) characters. The literature reports results on ``style_val.csv``, so that file is our
*test* split. Images are matched to rows by their path relative to an image root; copies whose
non-ASCII characters were replaced by ``_`` (as in ``shared/data/wikiart-sample``) still match.

Parquet shards (``huggan/wikiart`` layout) hold the images themselves: one `ImageRef` per row
(``path`` = shard, ``row`` = row index), found by reading only the label column.
`parquet_row_bytes` then fetches one image, caching the last row group read in each process.

pyarrow is imported lazily, so the CSV reader and the rest of the package work without it.

This module gathers the sources' public names in one place; the code is in
`wikiart.data.csv_source` (ArtGAN CSVs), `wikiart.data.parquet_source` (finding the rows of
parquet shards) and `wikiart.data.parquet_rows` (reading one row's image).
"""

from __future__ import annotations

from wikiart.data.csv_source import CSV_SPLITS, artgan_splits, read_artgan_csv
from wikiart.data.parquet_rows import PYARROW_MISSING, clear_parquet_cache, parquet_row_bytes
from wikiart.data.parquet_source import (
    find_shards,
    parquet_splits,
    shard_split,
    style_names_from_metadata,
)

__all__ = [
    "CSV_SPLITS",
    "PYARROW_MISSING",
    "artgan_splits",
    "clear_parquet_cache",
    "find_shards",
    "parquet_row_bytes",
    "parquet_splits",
    "read_artgan_csv",
    "shard_split",
    "style_names_from_metadata",
]
