"""The diffusion tests run many small tensor operations, for which one intra-op thread is
fastest (and reproducible) on a shared machine: every test here uses ``one_thread``."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield
