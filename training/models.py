"""Alignment runs: dataset snapshots, runs, their metrics and the model versions they produce."""
