"""Experiment scripts imported as modules, for the tests that check their helpers."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_experiment(folder: str, name: str):
    """``experiments/<folder>/<name>.py`` as the module ``<folder>_<name>`` (imported once)."""
    key = f"{folder}_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            key, ROOT / "experiments" / folder / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module  # dataclasses need the module registered while it executes
        spec.loader.exec_module(module)
    return sys.modules[key]
