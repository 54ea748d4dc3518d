"""Read queries used by pages and the API; one module per feature."""
