"""Evaluation: metrics in the ``metrics.json`` schema, clustering and projections of embeddings,
and the `Generator` seam through which any generative job's images are asked for and judged."""
