import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same global seed (code under test takes explicit generators)."""
    torch.manual_seed(0)
    yield
