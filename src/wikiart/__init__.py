"""wikiart: model art styles in paintings (classify, cluster, re-render)."""

__version__ = "0.1.0"
