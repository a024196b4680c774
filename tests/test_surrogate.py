import pytest
import torch

import spikegate.surrogate as sg

KINDS = sg.KINDS
GRID = torch.linspace(-2, 2, 4001, dtype=torch.float64)


def _off_kinks(x: torch.Tensor, spec: sg.SurrogateSpec) -> torch.Tensor:
    """Drop grid points within 1e-6 of a kink of the primitive (where autograd picks a side)."""
    if spec.kind == "rectangular":
        kinks = [-spec.alpha / 2, spec.alpha / 2]
    elif spec.kind == "triangle":
        kinks = [-spec.alpha, 0.0, spec.alpha]
    else:
        return x
    keep = torch.ones_like(x, dtype=torch.bool)
    for k in kinks:
        keep &= (x - k).abs() > 1e-6
    return x[keep]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("alpha", [None, 0.5, 3.0])
def test_derivative_is_gradient_of_primitive(kind, alpha):
    spec = sg.surrogate(kind, alpha)
    x = _off_kinks(GRID, spec).clone().requires_grad_()
    (grad,) = torch.autograd.grad(sg.primitive(x, spec).sum(), x)
    torch.testing.assert_close(grad, sg.derivative(x.detach(), spec), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("kind", KINDS)
def test_spike_forward_is_heaviside_backward_is_surrogate(kind):
    spec = sg.surrogate(kind)
    x = GRID.clone().requires_grad_()
    y = sg.spike(x, spec)
    assert torch.equal(y, (GRID >= 0).double())
    assert sg.spike(torch.zeros(1, dtype=torch.float64), spec).item() == 1.0  # H(0) = 1
    w = torch.randn_like(GRID)
    (g,) = torch.autograd.grad((y * w).sum(), x)
    torch.testing.assert_close(g, w * sg.derivative(GRID, spec), rtol=0, atol=0)


@pytest.mark.parametrize(
    "kind,alpha,value",
    [("fast_sigmoid", 25.0, 1.0), ("atan", 2.0, 1.0), ("sigmoid", 4.0, 1.0), ("triangle", 1.0, 1.0),
     ("rectangular", 1.0, 1.0), ("straight_through", 1.0, 1.0), ("rectangular", 0.5, 2.0)],
)
def test_peak_values(kind, alpha, value):
    assert sg.derivative(torch.zeros(1, dtype=torch.float64), sg.surrogate(kind, alpha)).item() == pytest.approx(value)


@pytest.mark.parametrize("kind", ["atan", "sigmoid", "triangle", "rectangular"])
def test_bounded_primitives_integrate_to_one(kind):
    spec = sg.surrogate(kind)
    big = torch.tensor([-1e3, 1e3], dtype=torch.float64)
    lo, hi = sg.primitive(big, spec)
    assert hi - lo == pytest.approx(1.0, abs=1e-3)


def test_defaults_and_validation():
    assert sg.surrogate("atan") == sg.SurrogateSpec("atan", 2.0)
    assert sg.surrogate(sg.SurrogateSpec("sigmoid", 7.0)).alpha == 7.0
    with pytest.raises(ValueError, match="surrogate kind"):
        sg.surrogate("gaussian")
    with pytest.raises(ValueError, match="alpha"):
        sg.surrogate("atan", 0.0)
    with pytest.raises(ValueError, match="alpha"):
        sg.surrogate("atan", -1.0)


def test_bernoulli_ste_samples_and_passes_gradient_through_probability():
    g = torch.Generator().manual_seed(3)
    p = torch.full((200_000,), 0.3, dtype=torch.float64, requires_grad=True)
    noise = torch.rand(p.shape, generator=g, dtype=torch.float64)
    h = sg.bernoulli_ste(p, noise)
    assert set(h.unique().tolist()) <= {0.0, 1.0}
    assert h.mean().item() == pytest.approx(0.3, abs=0.005)
    w = torch.randn_like(p)
    (grad,) = torch.autograd.grad((h * w).sum(), p)
    assert torch.equal(grad, w)


def test_stochastic_binary_is_seeded_and_sigmoid_adjusted():
    a = torch.linspace(-3, 3, 101, dtype=torch.float64, requires_grad=True)
    h1 = sg.stochastic_binary(a, generator=torch.Generator().manual_seed(0))
    h2 = sg.stochastic_binary(a, generator=torch.Generator().manual_seed(0))
    assert torch.equal(h1, h2)
    (grad,) = torch.autograd.grad(h1.sum(), a)
    s = torch.sigmoid(a.detach())
    torch.testing.assert_close(grad, s * (1 - s))
