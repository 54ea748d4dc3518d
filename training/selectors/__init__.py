"""Read queries used by the training pages and API; one module per feature."""
