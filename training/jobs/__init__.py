"""Engine jobs on a worker: the one executor (claim, start the engine, tail its output, heartbeat and
cancel, finish) and the reaping of stale jobs.
"""
