"""The light engine modules stay light: the spec (for `validate` and `defaults`) and JSONL (for the web app
too) import no torch, transformers, TRL or Django; JSONL imports the standard library only."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

HEAVY = ("torch", "transformers", "trl", "peft", "datasets", "accelerate", "django")


def imported_after(module: str) -> set[str]:
    """The top-level names in sys.modules after a fresh interpreter imports `module`."""
    code = f"import json, sys, {module}; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stdout))


@pytest.mark.parametrize("module", ["training.engine", "training.engine.spec", "training.engine.jsonl"])
def test_light_modules_import_no_ml_library_or_django(module: str) -> None:
    assert imported_after(module) & set(HEAVY) == set()


def test_jsonl_imports_the_standard_library_only() -> None:
    # What a bare interpreter has already (site hooks such as setuptools' _distutils_hack) does not count.
    added = imported_after("training.engine.jsonl") - imported_after("json")
    assert added - set(sys.stdlib_module_names) == {"training"}
