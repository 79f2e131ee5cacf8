"""The reader model: tokenization with offsets, encoders, pruning layer, heads."""
