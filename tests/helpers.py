"""Shared test helpers.

``require(name)`` imports an optional peer (brian2, snntorch, nir, ...). Outside CI a missing
peer skips the test; under CI (``CI=true``) it fails, because CI installs every peer and a
skipped comparison would check nothing.
"""

from __future__ import annotations

import importlib
import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(name: str):
    try:
        return importlib.import_module(name)
    except ImportError as e:
        if IN_CI:
            pytest.fail(f"{name} is required in CI but cannot be imported: {e}")
        pytest.skip(f"{name} is not installed")
