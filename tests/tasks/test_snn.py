"""The presets' shortcut for inputs that are the same at every step (direct coding)."""

import torch

from spikegate.tasks.snn import build_model


def test_time_constant_input_runs_once_and_matches_the_folded_path():
    torch.manual_seed(0)
    model = build_model("conv", (1, 12, 12), 3, hidden=(16,), channels=(4, 8), learnable=True).double()
    image = torch.rand(5, 1, 12, 12, dtype=torch.float64)
    constant = image.unsqueeze(0).expand(4, *image.shape)  # stride 0 in time
    materialised = constant.contiguous()  # the same values, run step by step through every layer
    grads = []
    for x in (constant, materialised):
        model.zero_grad()
        y, _ = model(x)
        model.logits(y).square().sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
        if x is constant:
            y_constant = y
    torch.testing.assert_close(y_constant, y, rtol=1e-12, atol=1e-12)
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
