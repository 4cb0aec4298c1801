"""`wikiart cluster`: embed one split with any embedding source (`embed`), cluster it, score the
clusters against the styles and plot them (`score`)."""

from wikiart.clustering.embed import PIXELS_SIZE, SOURCES, Embeddings, embed_split
from wikiart.clustering.score import (
    TABLE_HEADER,
    check_cluster_options,
    cluster_command,
    cluster_embeddings,
    format_table,
    table_rows,
)

__all__ = [
    "PIXELS_SIZE",
    "SOURCES",
    "TABLE_HEADER",
    "Embeddings",
    "check_cluster_options",
    "cluster_command",
    "cluster_embeddings",
    "embed_split",
    "format_table",
    "table_rows",
]
