"""What Rankwise adds to a training run: the same spec run by the engine directly vs through a run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres CELERY_BROKER_URL=redis://127.0.0.1:6379/9 \
        python bench/run_overhead.py [--steps 30] [--repeat 2] [--device cpu] [--model PATH]

Creates a scratch database (default rankwise_run_bench) on DATABASE_URL's server, migrates it, adds a
project with judged comparisons and a snapshot, and starts a Celery worker (queue gpu) on it. Then,
`--repeat` times each:
- direct: `python -m training.engine run spec.json` on the run's spec (own output dir), wall time;
- through Rankwise: run_launch → task on the worker → engine subprocess → metrics ingested →
  artifacts and model version registered; time from the launch call until the run is succeeded.
Prints both times (best and mean), the overhead in seconds and the ratio; drops the database unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _psql(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(sql)


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "rankwise",
                "worker",
                "-Q",
                "gpu",
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while b"ready." not in log.read_bytes():
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            raise SystemExit(f"the Celery worker did not start:\n{log.read_text()}")
        time.sleep(0.2)
    return worker


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--comparisons", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--model", default="", help="base model (default: the tiny local model, built if missing)"
    )
    parser.add_argument("--database", default="rankwise_run_bench")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    server_url = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not server_url.startswith("postgres") or not broker.startswith("redis://"):
        raise SystemExit("set DATABASE_URL (PostgreSQL server) and CELERY_BROKER_URL (redis://...)")
    data_dir = Path(tempfile.mkdtemp(prefix="rankwise-run-bench-"))
    url = _with_database(server_url, args.database)
    _psql(server_url, f'DROP DATABASE IF EXISTS "{args.database}"')
    _psql(server_url, f'CREATE DATABASE "{args.database}"')
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "RANKWISE_DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "rankwise.settings",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    model = args.model or str(data_dir / "models" / "tiny-llama")
    if not args.model:
        subprocess.run(
            [sys.executable, "manage.py", "build_tiny_model", "--output", model],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "rankwise", "purge", "-f", "-Q", "gpu"],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
    )
    worker = _start_worker(env, data_dir / "worker.log")
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from annotation.models import Comparison, Judgment, Project
    from tests.factories import UserFactory, make_comparison
    from training.models import Run
    from training.services.engine import engine_command
    from training.services.runs import RunLaunchSpec, run_launch
    from training.services.snapshots import SnapshotSpec, snapshot_create

    try:
        project = Project.objects.create(name="Bench", slug="bench")
        judge = UserFactory(username="bench-judge")
        for _ in range(args.comparisons):
            comparison: Comparison = make_comparison(project=project)
            first, second = comparison.slots.order_by("position").values_list("candidate_id", flat=True)
            Judgment.objects.create(
                comparison=comparison,
                annotator=judge,
                ordering=[[first], [second]],
                submission_token=uuid.uuid4().hex,
            )
        snapshot = snapshot_create(spec=SnapshotSpec(name="bench", projects=[project], eval_fraction=0.1))
        hyperparameters = {
            "max_steps": args.steps,
            "per_device_train_batch_size": 8,
            "logging_steps": 1,
            "save_steps": max(1, args.steps // 3),
            "eval_steps": max(1, args.steps // 3),
        }
        direct, through, steps_seen = [], [], []
        for attempt in range(args.repeat):
            run = run_launch(
                project=project,
                spec=RunLaunchSpec(
                    method="reward",
                    snapshot=snapshot,
                    base_model=model,
                    device=args.device,
                    hyperparameters=hyperparameters,
                ),
            )
            started = time.perf_counter()
            while not run.is_finished:
                time.sleep(0.05)
                run.refresh_from_db()
            through.append(time.perf_counter() - started)
            if run.status != Run.Status.SUCCEEDED:
                raise SystemExit(f"run {run.pk} {run.status}: {run.error}")
            steps_seen.append(run.metrics.filter(kind="train").count())

            spec = {**run.spec, "output_dir": str(data_dir / f"direct-{attempt}")}
            spec_path = data_dir / f"direct-{attempt}.json"
            spec_path.write_text(json.dumps(spec))
            started = time.perf_counter()
            subprocess.run(
                engine_command("run", str(spec_path)), cwd=ROOT, env=env, check=True, capture_output=True
            )
            direct.append(time.perf_counter() - started)
        best_direct, best_through = min(direct), min(through)
        print(f"reward run, {args.steps} steps on {args.device}, {args.repeat} repeats, model {model}")
        print(f"{'':<18}{'best s':>10}{'mean s':>10}")
        print(f"{'engine directly':<18}{best_direct:>10.2f}{statistics.mean(direct):>10.2f}")
        print(f"{'through Rankwise':<18}{best_through:>10.2f}{statistics.mean(through):>10.2f}")
        overhead, ratio = best_through - best_direct, best_through / best_direct
        print(f"overhead: {overhead:+.2f} s, ratio {ratio:.3f} (best of each)")
        print(f"train metric rows ingested per run: {steps_seen}")
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _psql(server_url, f'DROP DATABASE IF EXISTS "{args.database}"')
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
