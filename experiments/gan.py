"""`gamedyn gan`: Adam, real momentum, complex momentum and complex Adam on 2-D GAN mixtures.

Every optimiser trains the same generator/discriminator starts (one per seed)
on a fresh minibatch each step with simultaneous updates, through
``dynamics.simulate`` with ``key=`` (the game is stochastic: each step runs on
``game.resample(k)``).  Seeds are vmapped and the run goes in chunks, so the
progress bar moves as training does.  A seed whose state (or recorded loss)
becomes non-finite is reported as diverged at that exact step, never raised, and
its samples count as zero high-quality samples.
"""

from __future__ import annotations

import argparse
import cmath
import functools
import math
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import dynamics
from experiments import _io
from experiments._args import SEED_MAX, as_usage_error, float_in, int_in
from experiments._progress import partial_writer, progress_bar
from experiments._rundir import output_folder
from experiments.registry import UsageError, resolve
from games import GAN_MIXTURE_KINDS as KINDS
from games import gan_mixture
from games.checks import check_int
from nets import mlp

__all__ = ["OPTIMIZERS", "DEFAULT_OPTIMIZERS", "add_arguments", "main", "compute", "report",
           "run", "setup", "train", "record_every", "format_table", "NETWORK", "STD"]

# Settings from a small sweep on ring8 (std 0.05, tanh networks of width 128, batch 256,
# 4 seeds; modes covered of 8, averaged over seeds):
# * Adam: lr 1e-3 with b1 = 0.5, b2 = 0.999 (the usual GAN choice) covered 8.0 at 3000
#   steps; with ReLU networks 2.5 (leaky ReLU 1.25; ReLU with latent dim 2: 7.0); at
#   std 0.02, tanh 7.0 and ReLU 1.75 (lr 1e-3) or 1.0 (lr 3e-4).
# * Complex Adam: lr 1e-3, beta1 = 0.5 e^(i pi/8) covered 8.0 (|beta1| = 0.8: 7.75).
# * Momentum (real and complex) share lr 2e-2 and |beta| = 0.8 (near the usual starting
#   guess |beta| ~ 0.9, arg pi/8), so they differ only in arg(beta).  At
#   6000 steps real momentum covered 4.25/8 with lr 1e-2 and 5.0 with 2e-2; complex
#   momentum 5.5 with lr 2e-2 and 0 with 5e-2 (at std 0.02 neither covered more than
#   1.25 for any lr in 5e-3..2e-1).
_BETA_C = 0.8 * cmath.exp(1j * math.pi / 8)
_BETA1_C = 0.5 * cmath.exp(1j * math.pi / 8)

# name -> (dynamics built from a learning-rate multiplier, description for tables)
OPTIMIZERS: dict[str, tuple[Callable[[float], dynamics.Dynamics], str]] = {
    "adam": (lambda s: dynamics.from_optax(optax.adam, learning_rate=1e-3 * s, b1=0.5,
                                           b2=0.999),
             "Adam lr=1e-3, b1=0.5, b2=0.999"),
    "momentum": (lambda s: dynamics.momentum(2e-2 * s, 0.8),
                 "momentum lr=2e-2, beta=0.8 (same lr, |beta| as complex)"),
    "complex_momentum": (lambda s: dynamics.complex_momentum(2e-2 * s, _BETA_C),
                         "complex momentum lr=2e-2, beta=0.8e^(i pi/8)"),
    "complex_adam": (lambda s: dynamics.complex_adam(1e-3 * s, _BETA1_C, 0.999),
                     "complex Adam lr=1e-3, b1=0.5e^(i pi/8), b2=0.999"),
}
DEFAULT_OPTIMIZERS = tuple(OPTIMIZERS)

DEFAULTS = dict(kind="ring8", steps=5000, seeds=4, seed=0, batch_size=256, lr_scale=1.0,
                samples=2000, chunks=20, out="runs/gan")

# The networks and data of `gamedyn gan` (games.gan_mixture's defaults are smaller):
# generator latent 16 -> 128 -> 128 -> 2 and discriminator 2 -> 128 -> 128 -> 1, tanh.
# With ReLU (or leaky ReLU) Adam mode-collapsed (1.25-2.5 of 8 modes at 3000 steps).
# ring8 uses the wider std 0.05 (a common choice); grid16 keeps 0.02, the grid's usual std.
NETWORK = {"latent_dim": 16, "hidden": 128, "depth": 2, "activation": "tanh"}
STD = {"ring8": 0.05, "grid16": 0.02}


@functools.partial(jax.jit, static_argnames="n")
def _evaluate(game, params, key, n):
    samples = jax.vmap(lambda p, k: game.generate(p, k, n))(params, key)
    q = jax.vmap(game.quality)(samples)
    return samples, q["modes_covered"], q["high_quality"]


def record_every(steps: int, chunks: int) -> int:
    """The largest divisor of ``steps`` that is at most ``steps / chunks``."""
    target = max(1, steps // chunks)
    return max(d for d in range(1, target + 1) if steps % d == 0)


def train(game, dyn, params, keys, steps: int, *, chunks: int = 20, progress=None):
    """Train a batch of starts (leading axis = seeds) for ``steps`` steps.

    ``params`` and ``keys`` carry a leading seed axis; each seed draws its own
    minibatches from its key.  Returns ``(final params, diverged_at (seeds,),
    losses (seeds, records, 2))``: ``diverged_at`` is the first step at which a
    seed's state or recorded loss was non-finite (-1 if none); ``losses`` are
    [L_G, L_D] on the game's own minibatch every ``record_every(steps, chunks)``
    steps, from step 0.  ``progress(done_steps, steps)`` is called after each chunk.
    """
    every = record_every(steps, chunks)

    def one(p, k):
        return dynamics.simulate(game, dyn, p, steps, every=every, metrics=("losses",),
                                 key=k, chunks=chunks, progress=progress,
                                 record_params=False)
    traj = jax.vmap(one)(params, keys)
    return traj.final.params, np.asarray(traj.diverged_at), np.asarray(traj.metrics["losses"])


def _mean_std(x) -> tuple[float, float]:
    x = np.asarray(x, dtype=float)
    return float(np.mean(x)), float(np.std(x))


def format_table(title: str, rows: dict, num_modes: int) -> str:
    head = (f"{'optimiser':<18}{f'modes (of {num_modes})':>16}{'high quality':>16}"
            f"{'diverged':>10}   setting")
    lines = [f"== {title} ==", head, "-" * len(head)]
    for name, r in rows.items():
        m, ms = r["modes_covered_mean"], r["modes_covered_std"]
        h, hs = r["high_quality_mean"], r["high_quality_std"]
        div = f"{sum(d is not None for d in r['diverged_at'])}/{len(r['diverged_at'])}"
        lines.append(f"{name:<18}{f'{m:.1f} ± {ms:.1f}':>16}{f'{h:.3f} ± {hs:.3f}':>16}"
                     f"{div:>10}   {r['setting']}")
    return "\n".join(lines)


def _plot(path: Path, title: str, real: np.ndarray, fake: np.ndarray, modes: np.ndarray,
          rows: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = fake.shape[0]
    fig, axes = plt.subplots(1, n, figsize=(2.8 * n, 3.0), squeeze=False)
    lim = float(np.max(np.abs(modes))) + 1.0
    for s, ax in enumerate(axes[0]):
        ax.scatter(real[:, 0], real[:, 1], s=2, c="0.6", label="real")
        pts = fake[s][np.all(np.isfinite(fake[s]), axis=1)]
        ax.scatter(pts[:, 0], pts[:, 1], s=2, c="tab:red", alpha=0.5, label="generated")
        ax.scatter(modes[:, 0], modes[:, 1], s=14, marker="x", c="k", lw=0.8)
        d = rows["diverged_at"][s]
        sub = (f"diverged by step {d}" if d is not None else
               f"modes {rows['modes_covered'][s]}, hq {rows['high_quality'][s]:.2f}")
        outside = int(np.sum(np.max(np.abs(pts), axis=1) > lim))
        if outside:
            sub += f"\n{outside} of {len(fake[s])} outside the view"
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal",
               title=f"seed {s}: {sub}")
        ax.title.set_fontsize(8)
        ax.tick_params(labelsize=6)
    axes[0, 0].legend(fontsize=6, loc="upper left", markerscale=3)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    _io.write_png(path, fig)
    plt.close(fig)


def _check_int(name: str, v, low: int = 1) -> int:
    return as_usage_error(check_int, name, v, low=low)


def _resolve_optimizers(optimizers, lr_scale: float) -> dict:
    if isinstance(optimizers, dict):
        out = {}
        for name, dyn in optimizers.items():
            if not isinstance(dyn, dynamics.Dynamics):
                raise TypeError(f"optimizers[{name!r}] must be a dynamics.Dynamics; got "
                                f"{type(dyn).__name__}.")
            out[str(name)] = (dyn, "custom")
        return out
    if isinstance(optimizers, str):
        optimizers = [optimizers]
    names = resolve("optimiser", optimizers, OPTIMIZERS)
    desc = lambda n: OPTIMIZERS[n][1] + (f" (lr x {lr_scale:g})" if lr_scale != 1 else "")
    return {n: (OPTIMIZERS[n][0](lr_scale), desc(n)) for n in names}


HELP = ("train a GAN on 2-D mixtures with Adam, momentum, complex momentum and complex "
        "Adam")
DESCRIPTION = ("Train the 2-D mixture GAN with each optimiser over several seeds; report "
               "modes covered and the share of high-quality samples.")


def setup(kind: str, *, seed: int, seeds: int, batch_size: int):
    """The game (first minibatch from ``seed``), the starts (leading seed axis) and the
    training and evaluation keys of seeds ``seed, seed + 1, ...``."""
    net = NETWORK
    game = gan_mixture(
        kind, batch_size=batch_size, std=STD[kind], latent_dim=net["latent_dim"],
        generator=mlp((net["latent_dim"],) + (net["hidden"],) * net["depth"] + (2,),
                      activation=net["activation"]),
        discriminator=mlp((2,) + (net["hidden"],) * net["depth"] + (1,),
                          activation=net["activation"]),
        key=jax.random.key(seed))
    seed_keys = jax.vmap(jax.random.key)(jnp.arange(seed, seed + seeds, dtype=jnp.uint32))
    init_keys, train_keys, eval_keys = (jax.vmap(lambda k, i=i: jax.random.fold_in(k, i))(
        seed_keys) for i in range(3))
    return game, jax.vmap(game.init)(init_keys), train_keys, eval_keys


def compute(kind: str = DEFAULTS["kind"], optimizers=DEFAULT_OPTIMIZERS, *,
            steps: int = DEFAULTS["steps"], seeds: int = DEFAULTS["seeds"],
            seed: int = DEFAULTS["seed"], batch_size: int = DEFAULTS["batch_size"],
            lr_scale: float = DEFAULTS["lr_scale"], samples: int = DEFAULTS["samples"],
            chunks: int = DEFAULTS["chunks"], progress=None, checkpoint=None) -> dict:
    """Train the mixture GAN with each optimiser over ``seeds`` seeds.

    Args:
      kind: ``"ring8"`` or ``"grid16"``.
      optimizers: names from ``OPTIMIZERS`` (comma-separated strings allowed), or
        a dict name -> ``dynamics.Dynamics`` for custom settings.
      steps, seeds, seed, batch_size: training length, number of seeds (vmapped;
        they are ``seed, seed + 1, ...``, each giving the same start to every
        optimiser), and the minibatch size.
      lr_scale: multiplies every named optimiser's learning rate.
      samples: generated samples per seed for the quality metrics.
      chunks: the run goes in this many chunks (progress between them).
      progress: ``fn(done_steps, label)`` with the steps done over all optimisers.
      checkpoint: ``fn(results)`` after each optimiser.

    Returns the results (what results.json holds) with the samples and loss
    curves under ``"arrays"``.  The same arguments give bitwise-identical results
    apart from the timings (``seconds``, ``elapsed_s``).
    """
    if kind not in KINDS:
        raise UsageError(f"unknown mixture kind {kind!r}; choose from {', '.join(KINDS)}.")
    steps, seeds = _check_int("steps", steps), _check_int("seeds", seeds)
    seed = _check_int("seed", seed, 0)
    batch_size, samples = _check_int("batch_size", batch_size), _check_int("samples", samples)
    chunks = min(_check_int("chunks", chunks), steps)
    if isinstance(lr_scale, bool) or not isinstance(lr_scale, (int, float)) \
            or not (math.isfinite(lr_scale) and lr_scale > 0):
        raise UsageError(f"lr_scale must be a positive number; got {lr_scale!r}.")
    opts = _resolve_optimizers(optimizers, float(lr_scale))
    # Samples kept per optimiser and seed, and each seed's minibatch activations:
    # refuse what would not fit rather than fail midway.
    width = NETWORK["hidden"] * NETWORK["depth"] + NETWORK["latent_dim"]
    need = 8 * seeds * (2 * samples * (len(opts) + 2) + 4 * batch_size * width)
    if need > dynamics.memory_budget():
        raise UsageError(f"{seeds} seeds x {samples} samples with batch {batch_size} need "
                         f"about {need / 2**30:.1f} GiB, more than the "
                         f"{dynamics.memory_budget() / 2**30:.1f} GiB available; pass fewer "
                         f"--seeds, --samples or a smaller --batch-size.")

    net = NETWORK
    game, params0, train_keys, eval_keys = setup(kind, seed=seed, seeds=seeds,
                                                 batch_size=batch_size)
    modes = np.asarray(game.modes)
    real = np.asarray(game.sample_data(jax.random.fold_in(jax.random.key(seed), 3), samples))
    init_samples, init_modes, init_hq = _evaluate(game, params0, eval_keys, samples)

    game_record = {
        "factory": "games.gan_mixture", "kind": kind, "std": round(float(game.std), 8),
        "num_modes": len(modes), "batch_size": batch_size, "latent_dim": game.latent_dim,
        "networks": f"MLPs of {net['depth']} hidden layers x {net['hidden']}, "
                    f"{net['activation']}",
        "losses": "non-saturating (Goodfellow et al. 2014)", "updates": "simultaneous",
        "high_quality": "within 3 std of the nearest mode",
        "mode_covered": "at least 1% of samples high quality and nearest to it"}
    results = {"command": "gan", "complete": False,
               "options": {"kind": kind, "steps": steps, "seeds": seeds, "seed": seed,
                           "batch_size": batch_size, "lr_scale": lr_scale,
                           "samples": samples, "chunks": chunks,
                           "optimizers": list(opts)},
               "environment": _io.environment(), "game": game_record,
               "losses_every": record_every(steps, chunks),
               "initial": {"modes_covered": [int(m) for m in np.asarray(init_modes)],
                           "high_quality": [round(float(h), 6) for h in np.asarray(init_hq)]},
               "optimizers": {},
               "arrays": {"real": real, "modes": modes, "initial": np.asarray(init_samples)}}
    t0 = time.perf_counter()
    for k, (name, (dyn, setting)) in enumerate(opts.items()):
        t1 = time.perf_counter()
        report_steps = None
        if progress is not None:
            report_steps = lambda done, total, k=k, name=name: progress(k * total + done, name)
        params, diverged_at, curve = train(game, dyn, params0, train_keys, steps,
                                           chunks=chunks, progress=report_steps)
        fake, covered, hq = _evaluate(game, params, eval_keys, samples)
        covered, hq = np.asarray(covered), np.asarray(hq, dtype=float)
        final = curve[:, -1]
        row = {
            "setting": setting,
            "hyperparameters": _hyperparameters(dyn),
            "modes_covered": [int(c) for c in covered],
            "high_quality": [round(float(h), 6) for h in hq],
            "diverged_at": [None if d < 0 else int(d) for d in diverged_at],
            "final_loss_g": [float(x) for x in final[:, 0]],
            "final_loss_d": [float(x) for x in final[:, 1]],
            "seconds": time.perf_counter() - t1,
        }
        row["modes_covered_mean"], row["modes_covered_std"] = _mean_std(covered)
        row["high_quality_mean"], row["high_quality_std"] = _mean_std(hq)
        results["optimizers"][name] = row
        results["elapsed_s"] = time.perf_counter() - t0
        results["arrays"][name] = np.asarray(fake)
        results["arrays"][f"losses_{name}"] = curve
        if checkpoint is not None:
            checkpoint(results)
    results["complete"] = True
    return results


def _hyperparameters(dyn) -> dict:
    """The traced hyperparameters a dynamics was built with (its pytree leaves)."""
    hp = dyn.step.args[0] if dyn.step.args else {}
    return {k: complex(v) if np.iscomplexobj(v) else float(v) for k, v in hp.items()}


def report(results: dict, out, *, plots: bool = True, echo=print) -> None:
    """Print the table; write results.json, samples.npz and a PNG per optimiser."""
    out = Path(out)
    o, a = results["options"], results["arrays"]
    title = (f"gan {o['kind']}: {o['seeds']} seed{'s' * (o['seeds'] > 1)} x {o['steps']} "
             f"steps, batch {o['batch_size']}")
    echo(format_table(title, results["optimizers"], len(a["modes"])))
    if plots:
        for name, row in results["optimizers"].items():
            _plot(out / f"samples_{name}.png", f"{o['kind']}: {name} ({row['setting']})",
                  a["real"], a[name], a["modes"], row)
    _io.write_json(out / "results.json", {k: v for k, v in results.items() if k != "arrays"})
    _io.write_npz(out / "samples.npz", **a)


def run(kind: str = DEFAULTS["kind"], optimizers=DEFAULT_OPTIMIZERS, *, out=DEFAULTS["out"],
        plots: bool = True, echo=print, **kwargs) -> dict:
    """compute + report into ``out`` (replaced only once the run has finished)."""
    with output_folder(out) as tmp:
        results = compute(kind, optimizers, **kwargs)
        report(results, tmp, plots=plots, echo=echo)
    return results


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of ``gamedyn gan``."""
    d = DEFAULTS
    parser.add_argument("--kind", default=d["kind"], metavar="NAME",
                        help=f"data: {' or '.join(KINDS)} (default {d['kind']})")
    parser.add_argument("--optimizers", action="append", metavar="NAME",
                        help=f"optimisers, comma-separated or repeated; from "
                        f"{', '.join(OPTIMIZERS)} (default: all)")
    parser.add_argument("--steps", type=int_in(1, 10**7), default=d["steps"],
                        help=f"training steps (default {d['steps']})")
    parser.add_argument("--seeds", type=int_in(1, 1024), default=d["seeds"],
                        help=f"number of seeds, trained together (default {d['seeds']})")
    parser.add_argument("--seed", type=int_in(0, SEED_MAX - 1024), default=d["seed"],
                        help=f"first PRNG seed (default {d['seed']})")
    parser.add_argument("--batch-size", type=int_in(1, 1 << 16), default=d["batch_size"],
                        help=f"minibatch size (default {d['batch_size']})")
    parser.add_argument("--lr-scale", type=float_in(0, 1e3, low_open=True),
                        default=d["lr_scale"],
                        help="multiply every optimiser's learning rate (default 1)")
    parser.add_argument("--samples", type=int_in(1, 10**6), default=d["samples"],
                        help=f"generated samples per seed for the metrics "
                        f"(default {d['samples']})")
    parser.add_argument("--out", default=d["out"],
                        help=f"output folder (default {d['out']})")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNGs")
    return parser


def main(args: argparse.Namespace) -> int:
    """Run ``gamedyn gan`` from parsed arguments."""
    names = resolve("optimiser", args.optimizers or DEFAULT_OPTIMIZERS, OPTIMIZERS)
    with output_folder(args.out) as tmp:
        with progress_bar(len(names) * args.steps, "gan", unit="step") as bar:
            results = compute(args.kind, names, steps=args.steps, seeds=args.seeds,
                              seed=args.seed, batch_size=args.batch_size,
                              lr_scale=args.lr_scale, samples=args.samples,
                              progress=lambda done, label: bar.to(done, label),
                              checkpoint=partial_writer(tmp))
        report(results, tmp, plots=not args.no_plots)
    n = len(results["optimizers"])
    print("wrote results.json, samples.npz"
          + ("" if args.no_plots else f" and {n} PNG{'s' * (n > 1)}") + f" under {args.out}/")
    return 0
