"""Feature extractors: the networks whose embeddings FID, KID and PRDC compare."""
