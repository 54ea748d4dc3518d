"""The only code that writes annotation data; one module per workflow."""
