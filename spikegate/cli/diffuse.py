"""``spikegate diffuse``: train a spiking diffusion model (SDM) and sample from it.

train   trains a spiking U-Net noise predictor on MNIST-5000 or Fashion-MNIST (16x16 by
        default, or 28/32), optionally followed by TSM fine-tuning (SDM's second stage);
        writes checkpoint.pt atomically every --checkpoint-every steps (--resume continues
        from it exactly), loss.png and a sample grid samples.png.
sample  loads a checkpoint, draws --n images with DDIM or DDPM (optionally with threshold
        guidance), writes samples.png and samples.pt, and with --score reports the Fréchet
        distance in a classifier's feature space, the share of confidently recognised
        samples and the class coverage.
"""

from __future__ import annotations

import argparse
import os

from spikegate.cli._common import add_out, add_seed, ensure_dir, positive_float

CHECKPOINT = "checkpoint.pt"


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's choice; 1 is fastest on a busy machine)")


def _set_threads(args: argparse.Namespace) -> None:
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError("--threads must be >= 1")
        import torch

        torch.set_num_threads(args.threads)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diffuse", help="train / sample a spiking diffusion model (SDM)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    cmds = p.add_subparsers(dest="diffuse_command", metavar="{train,sample}", required=True)

    t = cmds.add_parser("train", help="train a spiking U-Net diffusion model")
    t.add_argument("--data", choices=("mnist5k", "fashion"), default="mnist5k", help="dataset (default: mnist5k)")
    t.add_argument("--size", type=int, choices=(16, 28, 32), default=16, help="image side (default: 16)")
    t.add_argument("--ch", type=int, default=16, help="base channels (default: 16)")
    t.add_argument("--ch-mult", type=_ints, default=[1, 2, 2], help="channel multipliers per level (default: 1,2,2)")
    t.add_argument("--res-blocks", type=int, default=1, help="residual blocks per level (default: 1)")
    t.add_argument("--spike-steps", type=int, default=4, help="spike steps T (default: 4)")
    t.add_argument("--train-steps", type=int, default=2000, help="optimisation steps, first stage (default: 2000)")
    t.add_argument("--tsm-steps", type=int, default=0, help="TSM fine-tuning steps after it (default: 0 = none)")
    t.add_argument("--batch", type=int, default=32, help="batch size (default: 32)")
    t.add_argument("--lr", type=positive_float, default=1e-3, help="AdamW learning rate (default: 1e-3)")
    t.add_argument("--warmup", type=int, default=200, help="linear warm-up steps (default: 200)")
    t.add_argument("--tsm-gain-lr", type=positive_float, default=10.0,
                   help="TSM stage: the gains learn at this multiple of --lr (default: 10)")
    t.add_argument("--anneal", type=int, default=0,
                   help="the last N steps of each stage anneal the learning rate to 0 along a cosine "
                        "(default: 0 = constant rate)")
    t.add_argument("--ema", type=float, default=0.0,
                   help="EMA decay of the weights, sampled from instead of them; 0 = none, as SDM (default: 0)")
    t.add_argument("--checkpoint-every", type=int, default=250, help="steps between checkpoints (default: 250)")
    t.add_argument("--grid", type=int, default=64, help="samples drawn for samples.png at the end, 0 = none")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    _add_threads(t)
    add_seed(t)
    add_out(t, "runs/diffuse")
    t.set_defaults(func=run_train)

    s = cmds.add_parser("sample", help="sample from a trained model")
    s.add_argument("--checkpoint", default=os.path.join("runs/diffuse", CHECKPOINT), help="checkpoint file")
    s.add_argument("--n", type=int, default=64, help="number of samples (default: 64)")
    s.add_argument("--sampler", choices=("ddim", "ddpm"), default="ddim", help="sampler (default: ddim)")
    s.add_argument("--sample-steps", type=int, default=50, help="diffusion steps walked (default: 50)")
    s.add_argument("--threshold-scale", type=positive_float, default=1.0,
                   help="threshold guidance: every threshold times this factor (default: 1 = off)")
    s.add_argument("--score", action="store_true", help="score the samples (trains the feature classifier)")
    _add_threads(s)
    add_seed(s)
    add_out(s, "runs/diffuse/samples")
    s.set_defaults(func=run_sample)


def build(config: dict):
    from spikegate.diffusion import SpikingUNet

    return SpikingUNet(**config)


def load_sampling_model(path: str):
    """(model for sampling — the EMA weights when kept —, checkpoint dict)."""
    from spikegate.io import load_checkpoint

    ck = load_checkpoint(path)
    model = build(ck["config"])
    state = ck["trainer"]
    model.load_state_dict(state["ema"] if state["ema"] is not None else state["model"])
    return model.eval(), ck


def _sample(model, n: int, size: int, *, sampler: str, steps: int, seed: int, progress: bool = True):
    import torch

    from spikegate.diffusion import NoiseSchedule, ddim_sample, ddpm_sample

    schedule = NoiseSchedule.linear(model.config()["diffusion_steps"])
    g = torch.Generator().manual_seed(seed)
    fn = ddim_sample if sampler == "ddim" else ddpm_sample
    return fn(model, (n, model.config()["in_channels"], size, size), schedule, steps=steps, generator=g,
              progress=progress)


def run_train(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from spikegate import plot
    from spikegate.diffusion import EMA, NoiseSchedule, Trainer
    from spikegate.diffusion.data import load, to_unit
    from spikegate.io import load_checkpoint, save_checkpoint

    _set_threads(args)
    for name in ("ch", "res_blocks", "spike_steps", "train_steps", "batch", "checkpoint_every"):
        if getattr(args, name) < (0 if name == "res_blocks" else 1):
            raise ValueError(f"--{name.replace('_', '-')} must be >= {0 if name == 'res_blocks' else 1}")
    if args.tsm_steps < 0 or args.grid < 0 or args.warmup < 0 or args.anneal < 0:
        raise ValueError("--tsm-steps, --grid, --warmup and --anneal must be >= 0")
    if not 0 <= args.ema < 1:
        raise ValueError("--ema must lie in [0, 1)")
    out = ensure_dir(args.out)
    path = os.path.join(out, CHECKPOINT)
    data = load(args.data, args.size, seed=args.seed).x_train
    config = dict(in_channels=1, ch=args.ch, ch_mult=args.ch_mult, num_res_blocks=args.res_blocks,
                  steps=args.spike_steps, diffusion_steps=1000)
    torch.manual_seed(args.seed)
    model = build(config)
    schedule = NoiseSchedule.linear(1000)
    ema = args.ema or None
    plain_stage = dict(total_steps=args.train_steps, anneal=min(args.anneal, args.train_steps))
    tsm_stage = dict(total_steps=args.tsm_steps, anneal=min(args.anneal, args.tsm_steps),
                     lr_multipliers={"gain": args.tsm_gain_lr})
    trainer = Trainer(model, schedule, lr=args.lr, warmup=args.warmup, ema_decay=ema,
                      generator=torch.Generator().manual_seed(args.seed), **plain_stage)
    losses: list[float] = []
    if args.resume:
        ck = load_checkpoint(path)
        if ck["config"]["tsm"]:
            model.enable_tsm()
            trainer = Trainer(model, schedule, lr=args.lr, ema_decay=ema, generator=trainer.generator, **tsm_stage)
        trainer.load_state_dict(ck["trainer"])
        losses = ck["losses"].tolist()

    def save() -> None:
        save_checkpoint(path, {"config": model.config(), "trainer": trainer.state_dict(), "data": args.data,
                               "size": args.size, "losses": torch.tensor(losses)})

    total = args.train_steps + args.tsm_steps
    bar = tqdm(total=total, initial=len(losses), desc="train", unit="step")

    def step_done(_: int, loss: float) -> None:
        losses.append(loss)
        bar.update()
        bar.set_postfix(loss=f"{loss:.4f}", stage="tsm" if model.has_tsm else "plain")
        if len(losses) % args.checkpoint_every == 0 or len(losses) == total:
            save()

    if len(losses) < args.train_steps:
        trainer.run(data, args.train_steps - len(losses), batch_size=args.batch, callback=step_done)
    if args.tsm_steps and len(losses) < total:
        if not model.has_tsm:
            init = None if trainer.ema is None else EMA(trainer.ema.model, 0.0).model.enable_tsm()
            model.enable_tsm()
            trainer = Trainer(model, schedule, lr=args.lr, ema_decay=ema, ema_init=init, generator=trainer.generator,
                              **tsm_stage)
        trainer.run(data, total - len(losses), batch_size=args.batch, callback=step_done)
    bar.close()
    save()
    plot.learning_curve({"loss": losses}, os.path.join(out, "loss.png"), xlabel="step", title="Noise-prediction MSE")
    first, last = sum(losses[:50]) / len(losses[:50]), sum(losses[-50:]) / len(losses[-50:])
    print(f"trained {len(losses)} steps on {args.data} {args.size}x{args.size} (T = {args.spike_steps}"
          f"{', TSM' if model.has_tsm else ''}): loss {first:.4f} (first 50) -> {last:.4f} (last 50)")
    if args.grid:
        x = _sample(trainer.sampling_model, args.grid, args.size, sampler="ddim", steps=50, seed=args.seed)
        plot.sample_grid(to_unit(x), os.path.join(out, "samples.png"), title=f"{args.data}, DDIM 50 steps")
    print(f"  wrote {path}, loss.png{', samples.png' if args.grid else ''} in {out}")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    import torch

    from spikegate import plot
    from spikegate.diffusion import sample_quality, threshold_guidance, train_classifier
    from spikegate.diffusion.data import load, to_unit

    _set_threads(args)
    if args.n < 1 or args.sample_steps < 1:
        raise ValueError("--n and --sample-steps must be >= 1")
    model, ck = load_sampling_model(args.checkpoint)
    out = ensure_dir(args.out)
    with threshold_guidance(model, args.threshold_scale):
        x = _sample(model, args.n, ck["size"], sampler=args.sampler, steps=args.sample_steps, seed=args.seed)
    torch.save(x, os.path.join(out, "samples.pt"))
    title = f"{ck['data']}, {args.sampler.upper()} {args.sample_steps} steps, threshold x{args.threshold_scale:g}"
    plot.sample_grid(to_unit(x[:256]), os.path.join(out, "samples.png"), title=title)
    print(f"{args.n} samples from {args.checkpoint} ({title})")
    if args.score:
        split = load(ck["data"], ck["size"])
        classifier = train_classifier(split.x_train, split.y_train)
        q = sample_quality(classifier, x, split.x_test)
        print(f"  Fréchet distance {q.fd:.2f}, recognised with p >= 0.8: {q.confident:.1%}, "
              f"class coverage {q.coverage:.0%}")
    print(f"  wrote samples.png and samples.pt in {out}")
    return 0
