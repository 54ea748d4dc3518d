"""The training app's server-rendered pages; one module per feature."""
