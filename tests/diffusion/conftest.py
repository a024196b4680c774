"""The diffusion tests run many small tensor operations, for which one intra-op thread is
fastest (and reproducible) on a shared machine."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
