"""Evaluation: metrics in the ``metrics.json`` schema, clustering and projections of embeddings."""
