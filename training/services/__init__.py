"""The only code that writes training data; one module per feature."""
