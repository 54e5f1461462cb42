"""Archive's pure cores: Parquet parts, the manifest chain, verification, retention."""
