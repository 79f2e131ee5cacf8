"""Training data for the neural reader: CUAD answer spans, RULER-style synthetic needle tasks, and one
example type (`ReaderExample`) with char-span -> token-label mapping. See docs/training-data.md."""
