"""Experiment scripts imported as modules, for the tests that check their helpers."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))
import seedlib  # noqa: E402


def load_experiment(folder: str, name: str):
    """``experiments/<folder>/<name>.py`` as the module ``<folder>_<name>`` (imported once, by
    `seedlib.load_script`, under the name the seed experiments use too)."""
    return seedlib.load_script(ROOT / "experiments" / folder / f"{name}.py", f"{folder}_{name}")
