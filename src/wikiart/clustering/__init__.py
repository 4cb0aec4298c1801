"""`wikiart cluster`: embed one split with any embedding source (`embed`), cluster it, score the
clusters against the styles and plot them (`score`)."""

from wikiart.lazy import lazy_exports

_EXPORTS = {
    "Embeddings": "wikiart.clustering.embed",
    "PIXELS_SIZE": "wikiart.clustering.embed",
    "SOURCES": "wikiart.clustering.embed",
    "TABLE_HEADER": "wikiart.clustering.score",
    "check_cluster_options": "wikiart.clustering.score",
    "cluster_command": "wikiart.clustering.score",
    "cluster_embeddings": "wikiart.clustering.score",
    "embed_split": "wikiart.clustering.embed",
    "format_table": "wikiart.clustering.score",
    "table_rows": "wikiart.clustering.score",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
