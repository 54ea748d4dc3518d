"""The training engine: a job spec in, metrics, logs and artifacts out. Imports nothing from Django."""
