"""Mechanisms every stage shares: the data store, the warehouse, files, partitions, the asset factory, the
configuration."""
