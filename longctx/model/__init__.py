"""The reader model: tokenization with offsets, encoders, the evidence scorer (pruning), heads."""
