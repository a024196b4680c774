r"""Surrogate-gradient (BPTT) training of the classifier presets, on one process or many.

Loss: cross-entropy of :meth:`SNN.logits`, or squared error of output firing rates to targets
(``loss="rate"``, :func:`loss_sum`); Adam; learning rate on a cosine schedule over the
epochs, :math:`\eta_e = \eta\,(1 + \cos(\pi e / E))/2` (``schedule="cosine"``) or constant.

Reproducibility: everything random in epoch ``e`` (the sample order, rate-coding spikes,
meta-neuron noise, augmentation shifts) comes from generators seeded with ``(seed, e, ...)``,
so the same seed gives the same run on the CPU, and a run resumed from the checkpoint of epoch
``e`` continues exactly as if it had not been interrupted.

Distributed: under ``torchrun`` (``WORLD_SIZE > 1``) the model is wrapped in
DistributedDataParallel (gloo on CPU, nccl on GPU). ``batch`` is the *global* batch: each step
takes the same ``batch`` samples as a single process would and gives rank ``r`` the samples
``r, r + W, ...``; every rank scales its summed loss by ``W / batch``, so the averaged gradient
equals the single-process one. Rank 0 writes the files; at the end the ranks compare their
parameters (``replica_divergence`` in ``metrics.json``: the largest difference to rank 0).

Files in ``out``: ``checkpoint.pt`` (written atomically after every epoch; ``resume=True``
continues from it), ``metrics.json`` and ``learning_curve.png``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor, nn

from spikegate._validate import check_choice, check_int, check_positive
from spikegate.io.checkpoint import load_checkpoint, save_checkpoint
from spikegate.surrogate import KINDS
from spikegate.tasks.data import DATASETS, ENCODERS, TaskData, encode, load_task, shift_augment
from spikegate.tasks.snn import MODELS, NEURONS, READOUTS, SNN, build_model

CHECKPOINT = "checkpoint.pt"
LOSSES: tuple[str, ...] = ("ce", "rate")
RATE_ON, RATE_OFF = 0.3, 0.03


def loss_sum(snn: SNN, out: Tensor, y: Tensor, loss: str) -> tuple[Tensor, Tensor]:
    r"""Summed loss over the batch and the logits. ``"ce"``: cross-entropy of
    :meth:`SNN.logits`. ``"rate"``: squared error between every output neuron's firing rate
    :math:`\bar S_c = \frac1T \sum_t S_c[t]` and its target, 0.3 for the true class and 0.03 for
    the others, summed over classes. The rate targets keep the output trains sparse and irregular,
    the regime where their Lempel-Ziv complexity grows with the rate (it falls again towards
    regular or saturated firing), which the SNN-LZC decision needs."""
    logits = snn.logits(out)
    if loss == "ce":
        return nn.functional.cross_entropy(logits, y, reduction="sum"), logits
    target = torch.full_like(logits, RATE_OFF)
    target.scatter_(1, y.unsqueeze(1), RATE_ON)
    return (out.mean(0) - target).pow(2).sum(), logits


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in every checkpoint)."""

    data: str = "digits"
    data_root: str | None = None
    model: str = "mlp"
    neuron: str = "lif"
    learnable: bool = False
    encoder: str = "direct"
    steps: int = 8
    surrogate: str = "atan"
    hidden: tuple[int, ...] = (256,)
    channels: tuple[int, ...] = (32, 64)
    readout: str = "potential"
    loss: str = "ce"
    epochs: int = 10
    lr: float = 1e-3
    batch: int = 64
    seed: int = 0
    augment: int = 0
    schedule: str = "cosine"
    backend: str = "auto"

    def __post_init__(self) -> None:
        self.hidden = tuple(int(h) for h in self.hidden)
        self.channels = tuple(int(c) for c in self.channels)
        check_choice(self.data, "data", DATASETS)
        check_choice(self.model, "model", MODELS)
        check_choice(self.neuron, "neuron", NEURONS)
        check_choice(self.encoder, "encoder", ENCODERS)
        check_choice(self.surrogate, "surrogate", KINDS)
        check_choice(self.readout, "readout", READOUTS)
        check_choice(self.loss, "loss", LOSSES)
        if self.loss == "rate" and self.readout != "spikes":
            raise ValueError("loss='rate' needs readout='spikes' (it sets targets for output firing rates)")
        check_choice(self.schedule, "schedule", ("cosine", "constant"))
        check_int(self.steps, "steps", minimum=1)
        check_int(self.epochs, "epochs", minimum=1)
        check_int(self.batch, "batch", minimum=1)
        check_int(self.augment, "augment", minimum=0)
        check_positive(self.lr, "lr")

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown configuration keys: {', '.join(sorted(unknown))}")
        return cls(**d)


def seeded(seed: int, *salt: int) -> torch.Generator:
    """A generator seeded from ``(seed, *salt)`` (independent streams per epoch, rank, use)."""
    state = np.random.SeedSequence([seed, *salt]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def model_for(config: TrainConfig, data: TaskData) -> SNN:
    """The network of ``config`` for ``data``, initialised from ``config.seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = build_model(
            config.model, data.features, data.n_classes, neuron=config.neuron, learnable=config.learnable,
            surrogate=config.surrogate, hidden=config.hidden, channels=config.channels, readout=config.readout,
        )
    for m in model.neurons():
        m.backend = config.backend
    return model


def data_for(config: TrainConfig) -> TaskData:
    return load_task(config.data, root=config.data_root, seed=config.seed, steps=config.steps)


class _Dist:
    """Process-group facts (a single process is rank 0 of 1)."""

    def __init__(self) -> None:
        import torch.distributed as dist

        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        use_cuda = torch.cuda.is_available() and self.world > 1
        self.device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if use_cuda else "cpu")
        self.dist = dist if self.world > 1 else None
        self.owned = self.dist is not None and not dist.is_initialized()
        if self.owned:
            dist.init_process_group("nccl" if use_cuda else "gloo")

    def close(self) -> None:
        """Wait for every rank, then take down the process group this object set up. Left to the
        interpreter's exit, the backend's threads can be destroyed while still joinable and abort
        the process (``terminate called without an active exception``)."""
        if self.owned:
            self.dist.barrier()
            self.dist.destroy_process_group()
            self.owned = False

    def all_sum(self, values: list[float]) -> list[float]:
        if self.dist is None:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        self.dist.all_reduce(t)
        return t.tolist()

    def divergence(self, model: nn.Module) -> float:
        """Largest absolute difference between any rank's parameters and rank 0's."""
        if self.dist is None:
            return 0.0
        flat = torch.cat([p.detach().reshape(-1).double() for p in model.state_dict().values()
                          if p.is_floating_point()])
        ref = flat.clone()
        self.dist.broadcast(ref, 0)
        diff = (flat - ref).abs().max().reshape(1)
        self.dist.all_reduce(diff, op=self.dist.ReduceOp.MAX)
        return float(diff)


def _batches(n: int, batch: int, order: Tensor | None) -> list[Tensor]:
    idx = torch.arange(n) if order is None else order
    return [idx[i:i + batch] for i in range(0, n, batch)]


def run_epoch(
    model: nn.Module, snn: SNN, x: Tensor, y: Tensor, config: TrainConfig, kind: str, *,
    generator: torch.Generator, order: Tensor | None = None, optimizer: torch.optim.Optimizer | None = None,
    rank: int = 0, world: int = 1, device: torch.device | str = "cpu", batch: int | None = None,
    on_batch: Callable[[float, float], None] | None = None,
) -> tuple[float, float, int]:
    """One pass over ``(x, y)``: trains when ``optimizer`` is given, else evaluates without
    gradients. ``model`` is ``snn`` or its DDP wrapper; this process handles share ``rank`` of
    ``world`` of every batch. Returns ``(summed loss, correct count, samples)`` of its share."""
    train = optimizer is not None
    model.train(train)
    tot_loss = tot_correct = tot_n = 0.0
    for idx in _batches(len(y), batch or config.batch, order):
        if train and len(idx) < world:
            continue  # a last batch smaller than the process count: every rank skips it alike
        mine = idx[rank::world]
        if len(mine) == 0:
            continue
        xb = x[mine]
        if train and config.augment and kind == "image":
            xb = shift_augment(xb, config.augment, generator=generator)
        inp = encode(xb, kind, config.encoder, config.steps, generator=generator).to(device)
        yb = y[mine].to(device)
        with torch.set_grad_enabled(train):
            out, _ = model(inp, generator=generator)
            loss, logits = loss_sum(snn, out, yb, config.loss)
        if train:
            optimizer.zero_grad(set_to_none=True)
            (loss * (world / len(idx))).backward()
            optimizer.step()
        correct = (logits.argmax(1) == yb).sum().item()
        tot_loss += loss.item()
        tot_correct += correct
        tot_n += len(mine)
        if on_batch is not None:
            on_batch(loss.item() / len(mine), correct / len(mine))
    return tot_loss, tot_correct, int(tot_n)


def _lr(config: TrainConfig, epoch: int) -> float:
    if config.schedule == "constant":
        return config.lr
    return config.lr * 0.5 * (1 + math.cos(math.pi * epoch / config.epochs))


def _check_resume(stored: dict[str, Any], config: TrainConfig) -> None:
    current = config.as_dict()
    # keys missing from an older checkpoint had their (unchanged) defaults
    stored = {**TrainConfig().as_dict(), **stored}
    differ = sorted(k for k in current if k != "epochs" and stored[k] != current[k])
    if differ:
        detail = ", ".join(f"{k}: checkpoint {stored.get(k)!r}, now {current[k]!r}" for k in differ)
        raise ValueError(f"--resume needs the options of the interrupted run; these differ: {detail}")


def train(config: TrainConfig, out: str | os.PathLike, *, resume: bool = False, progress: bool = True,
          data: TaskData | None = None) -> dict[str, Any]:
    """Train ``config`` and write the files listed in the module docstring into ``out``.
    Returns the metrics (per-epoch history, final test accuracy, wall time)."""
    from tqdm import tqdm

    from spikegate.plot import learning_curve

    dist = _Dist()
    out = os.fspath(out)
    ckpt_path = os.path.join(out, CHECKPOINT)
    data = data or data_for(config)
    snn = model_for(config, data).to(dist.device)
    optimizer = torch.optim.Adam(snn.parameters(), lr=config.lr)
    history: dict[str, list[float]] = {k: [] for k in ("train_loss", "train_acc", "test_loss", "test_acc", "epoch_s")}
    start = 0
    if resume:
        ckpt = load_checkpoint(ckpt_path)
        _check_resume(ckpt["config"], config)
        snn.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        history = {k: list(v) for k, v in ckpt["history"].items()}
        start = int(ckpt["epoch"])
    model: nn.Module = snn
    if dist.dist is not None:
        ids = [dist.device.index] if dist.device.type == "cuda" else None
        model = nn.parallel.DistributedDataParallel(snn, device_ids=ids)
    lead = dist.rank == 0
    shard = {"rank": dist.rank, "world": dist.world, "device": dist.device}
    if lead:
        os.makedirs(out, exist_ok=True)
    for epoch in range(start, config.epochs):
        t0 = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = _lr(config, epoch)
        order = torch.randperm(len(data.y_train), generator=seeded(config.seed, epoch, 0))
        bar = tqdm(total=math.ceil(len(data.y_train) / config.batch), desc=f"epoch {epoch + 1}/{config.epochs}",
                   disable=True if not (progress and lead) else None, leave=False, dynamic_ncols=True)

        def show(loss: float, acc: float) -> None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}", acc=f"{100 * acc:.1f}%")

        tr = run_epoch(model, snn, data.x_train, data.y_train, config, data.kind, order=order, optimizer=optimizer,
                       generator=seeded(config.seed, epoch, 1, dist.rank), on_batch=show, **shard)
        bar.close()
        te = run_epoch(model, snn, data.x_test, data.y_test, config, data.kind, batch=max(config.batch, 256),
                       generator=seeded(config.seed, epoch, 2, dist.rank), **shard)
        tr_loss, tr_correct, tr_n = dist.all_sum(list(tr))
        te_loss, te_correct, te_n = dist.all_sum(list(te))
        history["train_loss"].append(tr_loss / tr_n)
        history["train_acc"].append(tr_correct / tr_n)
        history["test_loss"].append(te_loss / te_n)
        history["test_acc"].append(te_correct / te_n)
        history["epoch_s"].append(time.perf_counter() - t0)
        if lead:
            save_checkpoint(ckpt_path, {"config": config.as_dict(), "model": snn.state_dict(),
                                        "optimizer": optimizer.state_dict(), "epoch": epoch + 1, "history": history})
            curves = {k: v for k, v in history.items() if k != "epoch_s"}
            learning_curve(curves, os.path.join(out, "learning_curve.png"),
                           title=f"{config.model} {config.neuron} on {config.data}")
            if progress:
                print(f"epoch {epoch + 1}/{config.epochs}: train loss {history['train_loss'][-1]:.4f} "
                      f"acc {100 * history['train_acc'][-1]:.2f}%  test loss {history['test_loss'][-1]:.4f} "
                      f"acc {100 * history['test_acc'][-1]:.2f}%  ({history['epoch_s'][-1]:.1f} s)", flush=True)
    metrics = {
        "config": config.as_dict(), "history": history, "world_size": dist.world,
        "test_acc": history["test_acc"][-1], "wall_s": float(sum(history["epoch_s"])),
        "replica_divergence": dist.divergence(snn),
    }
    if lead:
        tmp = os.path.join(out, "metrics.json.tmp")
        with open(tmp, "w") as fh:
            json.dump(metrics, fh, indent=1)
        os.replace(tmp, os.path.join(out, "metrics.json"))
    dist.close()
    return metrics


def load_trained(path: str | os.PathLike, *, data_root: str | None = None) -> tuple[SNN, TrainConfig, int]:
    """Rebuild the trained network of a checkpoint: ``(model in eval mode, config, epochs done)``."""
    ckpt = load_checkpoint(path)
    config = TrainConfig.from_dict(dict(ckpt["config"]))
    if data_root is not None:
        config.data_root = data_root
    data = data_for(config)
    model = model_for(config, data)
    model.load_state_dict(ckpt["model"])
    return model.eval(), config, int(ckpt["epoch"])


def evaluate(path: str | os.PathLike, *, data_root: str | None = None, batch: int = 256, seed: int = 0
             ) -> dict[str, float]:
    """Test-set loss and accuracy of a checkpoint (stochastic parts drawn from ``seed``)."""
    model, config, epochs = load_trained(path, data_root=data_root)
    data = data_for(config)
    t0 = time.perf_counter()
    loss, correct, n = run_epoch(model, model, data.x_test, data.y_test, config, data.kind, batch=batch,
                                 generator=seeded(seed, 0, 3))
    return {"test_loss": loss / n, "test_acc": correct / n, "samples": n, "epochs": epochs,
            "seconds": time.perf_counter() - t0}
