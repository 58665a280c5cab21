"""Every number the seed papers give that this platform reproduces: one module per paper, each value
cited with its table, figure or section. Nothing else in model_eval writes a paper's number again."""
