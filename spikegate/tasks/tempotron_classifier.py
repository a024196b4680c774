r"""The Tempotron rule on spikegate's LIF and meta-neurons, with or without learning their
intrinsic parameters.

Each output neuron :math:`k` integrates its weighted input :math:`x_k[t] = \sum_j W_{kj} S_j[t]`
with its own dynamics and no reset, so its membrane :math:`U_k[t]` is the tempotron's voltage
:math:`V(t) = \sum_j W_{kj} \sum_{t_j < t} K(t - t_j)` with the neuron's PSP kernel: for LIF
:math:`K(s) = \beta^s` (one exponential), for the (deterministic) meta-neuron the difference of
two exponentials with :math:`\tau_m, \tau_s`, i.e. the Gütig-Sompolinsky kernel up to its
normalization (:mod:`spikegate.plasticity.tempotron`). The neuron fires on a pattern iff
:math:`\max_t U_k \ge \vartheta_k`. On every error the rule descends the tempotron cost

.. math::

    E = \pm\big(\vartheta_k - U_k(t_{max})\big) \quad(+\ \text{missed}\ \oplus,\ -\ \ominus\ \text{false alarm}),

whose weight gradient is exactly the Tempotron update :math:`\Delta W_{kj} = \pm\lambda
\sum_{t_j < t_{max}} K(t_{max} - t_j)` (autograd through the neuron's step function computes it).
With ``learnable=True`` the same cost also moves the neuron's intrinsic parameters
(LIF: :math:`\beta, \vartheta`; meta: :math:`\tau_m, \tau_s, \vartheta`). Updates use SGD with
momentum over mini-batches of patterns. :math:`t_{max}` is the first threshold crossing for a
false alarm (the shunted voltage peaks there) and otherwise the time of the maximum after the
pattern's first input spike.

Two classes: one neuron, "fires" = class 1. More classes: one neuron per class trained one
against the rest; the prediction is the class with the largest :math:`\max_t U_k - \vartheta_k`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from spikegate._validate import check_choice, check_int, check_positive, check_sequence
from spikegate.neurons import LIF, MetaNeuron


class TempotronClassifier(nn.Module):
    """Tempotron-rule read-out of ``n_inputs`` spike trains (module docstring).

    Args:
        n_inputs, n_classes: input channels and classes.
        neuron: ``"lif"`` (:math:`\\tau_m` = ``tau_mem``) or ``"meta"`` (``tau_mem``, ``tau_syn``),
            threshold 1, one step = ``dt`` ms.
        learnable: learn the intrinsic parameters with the same cost.
        generator: draws the initial weights :math:`\\mathcal{N}(0, 0.01^2)`.
    """

    def __init__(self, n_inputs: int, n_classes: int, *, neuron: str = "lif", learnable: bool = False,
                 tau_mem: float = 15.0, tau_syn: float = 3.75, dt: float = 1.0,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        check_int(n_inputs, "n_inputs", minimum=1)
        self.n_classes = check_int(n_classes, "n_classes", minimum=2)
        check_choice(neuron, "neuron", ("lif", "meta"))
        k = 1 if n_classes == 2 else n_classes
        self.weight = nn.Parameter(0.01 * torch.randn(k, n_inputs, generator=generator))
        if neuron == "lif":
            self.cell = LIF(tau_mem=tau_mem, dt=dt, threshold=1.0, reset="none", shape=(k,),
                            learn_beta=learnable, learn_threshold=learnable)
        else:
            self.cell = MetaNeuron(tau_mem, tau_syn, 1.0, 0.1, dt=dt, reset="none", shape=(k,), stochastic=False,
                                   learn=("tau_mem", "tau_syn", "threshold") if learnable else ())

    def potentials(self, x: Tensor) -> Tensor:
        """Membrane ``U: [T, B, K]`` (no reset) for input spikes ``x: [T, B, n_inputs]``."""
        x = check_sequence(x, "x", (self.weight.shape[1],))
        _, states = self.cell.trace(x.to(self.weight.dtype) @ self.weight.T)
        return states.v

    def decide(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(fires bool [B, K], t_max index [B, K], U(t_max) [B, K])``."""
        u = self.potentials(x)
        theta = self.cell.params().threshold
        above = u >= theta
        fired = above.any(0)
        first = above.to(torch.int8).argmax(0)
        # the maximum is taken after the first input spike: before it U = 0 carries no gradient
        started = (x.detach().abs().sum(2, keepdim=True).cumsum(0) > 0).expand_as(u)
        t_max = torch.where(fired, first, u.detach().masked_fill(~started, float("-inf")).argmax(0))
        return fired, t_max, u.gather(0, t_max.unsqueeze(0))[0]

    def _targets(self, y: Tensor) -> Tensor:
        if self.weight.shape[0] == 1:
            return (y == 1).unsqueeze(1)
        return y.unsqueeze(1) == torch.arange(self.n_classes, device=y.device).unsqueeze(0)

    def cost(self, x: Tensor, y: Tensor) -> tuple[Tensor, int]:
        """Summed tempotron cost over the errors of a batch, and the number of errors."""
        fired, t_max, u_max = self.decide(x)
        target = self._targets(y)
        wrong = fired != target
        theta = self.cell.params().threshold.expand_as(u_max)
        sign = torch.where(target, 1.0, -1.0).to(u_max.dtype)
        return (wrong * sign * (theta - u_max)).sum(), int(wrong.sum())

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """Class of every pattern ``[B]``."""
        u = self.potentials(x)
        if self.weight.shape[0] == 1:
            return (u.amax(0)[:, 0] >= self.cell.params().threshold.reshape(-1)[0]).to(torch.int64)
        return (u.amax(0) - self.cell.params().threshold).argmax(1)

    def fit(self, x: Tensor, y: Tensor, *, epochs: int = 20, lr: float = 1e-2, momentum: float = 0.9,
            batch: int = 32, generator: torch.Generator | None = None) -> list[int]:
        """Train on ``x: [T, N, n_inputs]``, ``y: [N]``; returns the errors of every epoch."""
        check_int(epochs, "epochs", minimum=1)
        check_int(batch, "batch", minimum=1)
        check_positive(lr, "lr")
        opt = torch.optim.SGD(self.parameters(), lr=lr, momentum=momentum)
        history = []
        for _ in range(epochs):
            errors = 0
            for idx in torch.randperm(x.shape[1], generator=generator).split(batch):
                loss, wrong = self.cost(x[:, idx], y[idx])
                if wrong:
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                errors += wrong
            history.append(errors)
            if errors == 0:
                break
        return history
