"""Data layer: scanning folders, the class map, safe image decoding, the preprocessing cache,
extra sources (ArtGAN CSV, parquet shards), the built-in synthetic dataset and data checks.

This package imports no torch at module level, so decode workers start fast.
"""
