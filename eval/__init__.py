"""Canned questions, harness, metrics, reports and benchmarks of movie-rag.

The questions file and the baseline ship inside the package (package data), so an installed wheel
finds them through `importlib.resources` and runs a gated eval outside the source tree.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

QUESTIONS_FILE = "questions.yaml"
BASELINE_FILE = "baseline.json"


def packaged(name: str) -> Path:
    """Path of a data file of this package (the questions, the baseline), wherever it is installed.

    Wheels install as plain directories, so the resource is a real file; a zipped install is
    not supported (the baseline is rewritten in place by --update-baseline).
    """
    resource = files(__name__) / name
    if not isinstance(resource, Path):
        raise RuntimeError(f"eval data {name} is not a plain file ({resource}); install movie-rag unzipped.")
    return resource
