"""`gamedyn gan`: Adam, real momentum, complex momentum and complex Adam on 2-D GAN mixtures.

Every optimiser trains the same generator/discriminator starts (one per seed)
on a fresh minibatch each step (``game.resample``) with simultaneous updates.
Seeds are vmapped, and the steps run as a jitted ``lax.scan`` in equal chunks
(one compilation per optimiser), so the progress bar moves as training does.
A seed whose state becomes non-finite is reported as diverged, never raised:
``diverged_at`` is the end of the first chunk after which it was non-finite
(a check inside the scan would double the compile time), and its samples count
as zero high-quality samples.
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
from experiments._progress import Progress
from experiments.registry import UsageError, resolve
from games import GAN_MIXTURE_KINDS as KINDS, gan_mixture
from nets import mlp

__all__ = ["OPTIMIZERS", "DEFAULT_OPTIMIZERS", "add_arguments", "main", "run",
           "train", "format_table", "NETWORK", "STD"]

# Settings from a small sweep on ring8 (std 0.05, tanh networks of width 128, batch 256,
# 4 seeds; modes covered of 8, averaged over seeds):
# * Adam: lr 1e-3 with b1 = 0.5, b2 = 0.999 (the usual GAN choice) covered 8.0 at 3000
#   steps; with ReLU networks 2.5 (leaky ReLU 1.25; ReLU with latent dim 2: 7.0); at
#   std 0.02, tanh 7.0 and ReLU 1.75 (lr 1e-3) or 1.0 (lr 3e-4).
# * Complex Adam: lr 1e-3, beta1 = 0.5 e^(i pi/8) covered 8.0 (|beta1| = 0.8: 7.75).
# * Momentum (real and complex) share lr 2e-2 and |beta| = 0.8 (PAPERS.md section 2
#   suggests |beta| ~ 0.9, arg pi/8 as a start), so they differ only in arg(beta).  At
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
# ring8 uses the wider std 0.05 (a common choice); grid16 keeps 0.02 (PAPERS.md).
NETWORK = {"latent_dim": 16, "hidden": 128, "depth": 2, "activation": "tanh"}
STD = {"ring8": 0.05, "grid16": 0.02}


def _finite(tree):
    ok = jnp.bool_(True)
    for x in jax.tree_util.tree_leaves(tree):
        if jnp.issubdtype(jnp.result_type(x), jnp.inexact):
            ok = ok & jnp.all(jnp.isfinite(x))
    return ok


@functools.partial(jax.jit, static_argnames="length")
def _train_chunks(game, dyn, state, keys, diverged_at, t_end, length):
    """``length`` scanned steps for every seed (vmapped over state, keys, diverged_at).

    Finiteness is checked once per chunk, at its end (a check inside the scan
    doubles the compile time), so ``diverged_at`` has the resolution of a chunk.
    """
    def one_seed(state, key, diverged_at):
        def body(carry, _):
            state, key = carry
            key, sub = jax.random.split(key)
            return (dyn.step(game.resample(sub), state), key), None

        (state, key), _ = jax.lax.scan(body, (state, key), None, length=length)
        diverged_at = jnp.where((diverged_at < 0) & ~_finite(state), t_end, diverged_at)
        losses = game.resample(key).losses(state.params)     # on a fresh minibatch
        return state, key, diverged_at, losses

    return jax.vmap(one_seed)(state, keys, diverged_at)


@functools.partial(jax.jit, static_argnames="n")
def _evaluate(game, params, key, n):
    samples = jax.vmap(lambda p, k: game.generate(p, k, n))(params, key)
    q = jax.vmap(game.quality)(samples)
    return samples, q["modes_covered"], q["high_quality"]


def train(game, dyn, params, keys, steps: int, *, chunks: int = 20, progress=None,
          label: str = ""):
    """Train a batch of starts (leading axis = seeds) for ``steps`` steps.

    ``params`` and ``keys`` carry a leading seed axis; each seed draws its own
    minibatches from its key.  Returns ``(final params, diverged_at (seeds,),
    losses (chunks, seeds, 2))``: ``diverged_at`` is the end of the first chunk
    after which a seed's state held a non-finite value (-1 if it stayed finite);
    ``losses`` are [L_G, L_D] on a fresh minibatch after each chunk.
    """
    n_seeds = keys.shape[0]
    length = -(-steps // chunks)          # equal chunks (one compile), a shorter last one
    state = jax.vmap(dyn.init)(params)
    diverged_at = jnp.full((n_seeds,), -1, jnp.int32)
    curve, done = [], 0
    while done < steps:
        n = min(length, steps - done)
        done += n
        state, keys, diverged_at, losses = _train_chunks(
            game, dyn, state, keys, diverged_at, jnp.int32(done), length=n)
        curve.append(np.asarray(losses))
        if progress is not None:
            progress.update(label)
    return state.params, np.asarray(diverged_at), np.stack(curve)


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
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
        raise UsageError(f"{name} must be an int >= {low}; got {v!r}.")
    return int(v)


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


def run(kind: str = DEFAULTS["kind"], optimizers=DEFAULT_OPTIMIZERS, *,
        steps: int = DEFAULTS["steps"], seeds: int = DEFAULTS["seeds"],
        seed: int = DEFAULTS["seed"], batch_size: int = DEFAULTS["batch_size"],
        lr_scale: float = DEFAULTS["lr_scale"], samples: int = DEFAULTS["samples"],
        chunks: int = DEFAULTS["chunks"], out=DEFAULTS["out"], plots: bool = True,
        echo=print) -> dict:
    """Train the mixture GAN with each optimiser over ``seeds`` seeds; write results under ``out``.

    Args:
      kind: ``"ring8"`` or ``"grid16"``.
      optimizers: names from ``OPTIMIZERS`` (comma-separated strings allowed), or
        a dict name -> ``dynamics.Dynamics`` for custom settings.
      steps, seeds, seed, batch_size: training length, number of seeds (vmapped;
        they are ``seed, seed + 1, ...``, each giving the same start to every
        optimiser), and the minibatch size.
      lr_scale: multiplies every named optimiser's learning rate.
      samples: generated samples per seed for the quality metrics.
      chunks: the scan runs in this many chunks (progress and partial results).
      out: output folder: ``results.json``, ``samples.npz``, ``samples_<name>.png``.

    Returns the dict written to ``results.json``.  Rows are written after each
    optimiser, so an interrupted run keeps the optimisers it finished.
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

    out = Path(out)
    net = NETWORK
    game = gan_mixture(
        kind, batch_size=batch_size, std=STD[kind], latent_dim=net["latent_dim"],
        generator=mlp((net["latent_dim"],) + (net["hidden"],) * net["depth"] + (2,),
                      activation=net["activation"]),
        discriminator=mlp((2,) + (net["hidden"],) * net["depth"] + (1,),
                          activation=net["activation"]),
        key=jax.random.key(seed))
    modes = np.asarray(game.modes)
    seed_keys = jax.vmap(jax.random.key)(jnp.arange(seed, seed + seeds, dtype=jnp.uint32))
    init_keys, train_keys, eval_keys = (jax.vmap(lambda k, i=i: jax.random.fold_in(k, i))(
        seed_keys) for i in range(3))
    params0 = jax.vmap(game.init)(init_keys)
    real = np.asarray(game.sample_data(jax.random.fold_in(jax.random.key(seed), 3), samples))
    init_samples, init_modes, init_hq = _evaluate(game, params0, eval_keys, samples)

    config = {"kind": kind, "steps": steps, "seeds": seeds, "seed": seed,
              "batch_size": batch_size, "latent_dim": game.latent_dim, "lr_scale": lr_scale,
              "samples": samples, "std": round(float(game.std), 8), "num_modes": len(modes),
              "networks": f"MLPs of {net['depth']} hidden layers x {net['hidden']}, "
                          f"{net['activation']}",
              "losses": "non-saturating (Goodfellow et al. 2014)", "updates": "simultaneous",
              "high_quality": "within 3 std of the nearest mode",
              "mode_covered": "at least 1% of samples high quality and nearest to it",
              "diverged_at_resolution": -(-steps // chunks),
              "x64": jax.config.jax_enable_x64}
    results = {"command": "gan", "config": config,
               "initial": {"modes_covered": [int(m) for m in np.asarray(init_modes)],
                           "high_quality": [round(float(h), 6) for h in np.asarray(init_hq)]},
               "optimizers": {}}
    arrays = {"real": real, "modes": modes, "initial": np.asarray(init_samples)}
    title = f"gan {kind}: {seeds} seed{'s' * (seeds > 1)} x {steps} steps, batch {batch_size}"
    t0 = time.perf_counter()
    n_chunks = -(-steps // -(-steps // chunks))
    with Progress(len(opts) * n_chunks, "gan") as bar:
        for name, (dyn, setting) in opts.items():
            t1 = time.perf_counter()
            params, diverged_at, curve = train(game, dyn, params0, train_keys, steps,
                                               chunks=chunks, progress=bar, label=name)
            fake, covered, hq = _evaluate(game, params, eval_keys, samples)
            covered, hq = np.asarray(covered), np.asarray(hq, dtype=float)
            final = curve[-1]
            row = {
                "setting": setting,
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
            arrays[name] = np.asarray(fake)
            arrays[f"losses_{name}"] = curve
            _io.write_json(out / "results.json", results)
            _io.write_npz(out / "samples.npz", **arrays)
            if plots:
                _plot(out / f"samples_{name}.png", f"{kind}: {name} ({setting})", real,
                      np.asarray(fake), modes, row)
    echo(format_table(title, results["optimizers"], len(modes)))
    echo(f"wrote {out / 'results.json'}, {out / 'samples.npz'}"
         + (f" and {len(opts)} PNG{'s' * (len(opts) > 1)}" if plots else "")
         + f" under {out}/")
    return results


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of ``gamedyn gan``."""
    d = DEFAULTS
    parser.add_argument("--kind", default=d["kind"], metavar="NAME",
                        help=f"data: {' or '.join(KINDS)} (default {d['kind']})")
    parser.add_argument("--optimizers", action="append", metavar="NAME",
                        help=f"optimisers, comma-separated or repeated; from "
                        f"{', '.join(OPTIMIZERS)} (default: all)")
    parser.add_argument("--steps", type=int, default=d["steps"],
                        help=f"training steps (default {d['steps']})")
    parser.add_argument("--seeds", type=int, default=d["seeds"],
                        help=f"number of seeds, trained together (default {d['seeds']})")
    parser.add_argument("--seed", type=int, default=d["seed"],
                        help=f"first PRNG seed (default {d['seed']})")
    parser.add_argument("--batch-size", type=int, default=d["batch_size"],
                        help=f"minibatch size (default {d['batch_size']})")
    parser.add_argument("--lr-scale", type=float, default=d["lr_scale"],
                        help="multiply every optimiser's learning rate (default 1)")
    parser.add_argument("--samples", type=int, default=d["samples"],
                        help=f"generated samples per seed for the metrics "
                        f"(default {d['samples']})")
    parser.add_argument("--out", default=d["out"],
                        help=f"output folder (default {d['out']})")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNGs")
    return parser


def main(args: argparse.Namespace) -> int:
    """Run ``gamedyn gan`` from parsed arguments; bad values raise ValueError."""
    run(args.kind, args.optimizers or DEFAULT_OPTIMIZERS, steps=args.steps,
        seeds=args.seeds, seed=args.seed, batch_size=args.batch_size,
        lr_scale=args.lr_scale, samples=args.samples, out=args.out,
        plots=not args.no_plots)
    return 0
