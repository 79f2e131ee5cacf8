"""Language-level text processing shared by the readers and the model heads: terms (tokens, a light stemmer,
stop words) and segmentation into sentences and clauses with exact character offsets."""
