"""`gamedyn rates`: convergence-rate heatmaps of complex momentum over arg(beta) x |beta|."""

from __future__ import annotations

import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

import dynamics
from experiments import _io
from experiments._progress import Progress
from experiments.registry import GAMES, UsageError, resolve

__all__ = ["add_arguments", "main", "run", "steps_from_radius", "RATE_DYNAMICS"]

RATE_DYNAMICS = {"complex_momentum": False, "complex_momentum_alternating": True}


def steps_from_radius(rho, tol: float):
    """Steps to shrink the distance by ``tol`` at linear rate ``rho`` (inf if rho >= 1)."""
    rho = np.asarray(rho, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        steps = np.ceil(np.log(tol) / np.log(rho))
    return np.where((rho < 1) & np.isfinite(rho), steps, np.inf)


def add_arguments(p) -> None:
    p.add_argument("--game", default="dirac_gan", metavar="NAME",
                   help=f"one of {', '.join(GAMES)} (default dirac_gan)")
    p.add_argument("--dynamics", default="complex_momentum", metavar="NAME",
                   help=f"one of {', '.join(RATE_DYNAMICS)} (default complex_momentum)")
    p.add_argument("--lr", type=float, default=0.5, help="step size (default 0.5)")
    p.add_argument("--grid", type=int, default=64,
                   help="arg x |beta| points for the spectral-radius heatmap (default 64)")
    p.add_argument("--sim-grid", type=int, default=16,
                   help="points per axis for the simulated heatmap (default 16)")
    p.add_argument("--steps", type=int, default=2000, help="simulated steps (default 2000)")
    p.add_argument("--tol", type=float, default=1e-6,
                   help="target distance relative to the start's (default 1e-6)")
    p.add_argument("--radius", type=float, default=0.1,
                   help="distance of the simulated start from the equilibrium (default 0.1: "
                   "near it, where the linear prediction applies)")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed of the start's direction")
    p.add_argument("--out", default="runs/rates", help="output folder (default runs/rates)")


def _axes(n):
    return np.linspace(0.0, 0.99, n), np.linspace(0.0, np.pi, n)


def run(game_name="dirac_gan", dynamics_name="complex_momentum", *, lr=0.5, grid=64,
        sim_grid=16, steps=2000, tol=1e-6, radius=0.1, seed=0, out="runs/rates",
        echo=print) -> dict:
    """Spectral-radius heatmap (fine grid) and simulated heatmap (coarse grid)."""
    [game_name] = resolve("game", [game_name], GAMES)
    [dynamics_name] = resolve("dynamics", [dynamics_name], RATE_DYNAMICS)
    if not lr > 0:
        raise UsageError(f"--lr must be positive; got {lr}.")
    if grid < 2 or sim_grid < 2:
        raise UsageError(f"--grid and --sim-grid need at least 2 points; got {grid}, "
                         f"{sim_grid}.")
    if not radius > 0:
        raise UsageError(f"--radius must be positive; got {radius}.")
    if not 0 < tol < 1:
        raise UsageError(f"--tol is a relative distance in (0, 1); got {tol}.")
    alternating = RATE_DYNAMICS[dynamics_name]
    game = GAMES[game_name]()
    out = Path(out)
    t0 = time.perf_counter()
    with Progress(2, "rates") as bar:
        mags, args = _axes(grid)
        rho = dynamics.spectral_radius_grid(game, [lr], mags, args,
                                            alternating=alternating)[0]
        bar.update("spectral radius")
        start = _start(game, radius, seed)
        d0 = radius
        smags, sargs = _axes(sim_grid)
        sim = dynamics.steps_to_tolerance_grid(game, start, [lr], smags, sargs, steps=steps,
                                               tol=tol * d0, alternating=alternating)[0]
        bar.update("simulation")
    pred = steps_from_radius(rho, tol)
    eq = game.equilibrium()
    baselines = {n: float(dynamics.spectral_radius(game, d, eq)) for n, d in
                 [("simgd", dynamics.simgd(lr)), ("alternating GD", dynamics.alternating(lr))]}
    j, k = np.unravel_index(np.argmin(rho), rho.shape)
    real_cols = [0, grid - 1]                          # arg 0 and arg pi: real beta
    jr, kr = np.unravel_index(np.argmin(rho[:, real_cols]), (grid, 2))
    sj, sk = np.unravel_index(np.argmin(sim), sim.shape)
    best = {"beta_abs": mags[j], "beta_arg": args[k], "beta_arg_over_pi": args[k] / np.pi,
            "spectral_radius": rho[j, k], "steps_predicted": pred[j, k]}
    best_real = {"beta": mags[jr] * (1 if kr == 0 else -1), "spectral_radius":
                 rho[jr, real_cols[kr]], "steps_predicted": pred[jr, real_cols[kr]]}
    best_sim = {"beta_abs": smags[sj], "beta_arg": sargs[sk], "steps": sim[sj, sk]}
    results = {"command": "rates", "config": {"game": game_name, "dynamics": dynamics_name,
               "lr": lr, "grid": grid, "sim_grid": sim_grid, "steps": steps, "tol": tol,
               "radius": radius, "seed": seed}, "best": best, "best_real": best_real,
               "best_simulated": best_sim, "baseline_rates": baselines,
               "converging_share": float(np.mean(rho < 1)),
               "elapsed_s": time.perf_counter() - t0}
    _io.write_json(out / "results.json", results)
    _io.write_npz(out / "rates.npz", mags=mags, args=args, spectral_radius=rho,
                  steps_predicted=pred, sim_mags=smags, sim_args=sargs, steps_simulated=sim)
    _plot(out / f"rates_{game_name}.png", game_name, dynamics_name, lr, mags, args, pred,
          smags, sargs, sim, (j, k), (sj, sk), steps)
    sim_txt = (f"{int(best_sim['steps'])} steps" if np.isfinite(best_sim["steps"])
               else f"not reached in {steps} steps")
    echo(f"{dynamics_name} on {game_name}, lr={lr}, steps to {tol:g} x the start distance")
    echo(f"  best setting   : beta = {mags[j]:.3f} * exp(i * {args[k] / np.pi:.3f} pi)  "
         f"rate {rho[j, k]:.5f}  ~{_steps_txt(pred[j, k])}")
    echo(f"  best real beta : beta = {best_real['beta']:+.3f}  rate "
         f"{best_real['spectral_radius']:.5f}  {_steps_txt(best_real['steps_predicted'])}")
    for name, r in baselines.items():
        echo(f"  {name:<15}: rate {r:.5f}  {_steps_txt(steps_from_radius(r, tol))}")
    echo(f"  simulated best : beta = {smags[sj]:.3f} * exp(i * {sargs[sk] / np.pi:.3f} pi)  "
         f"{sim_txt}")
    echo(f"  {100 * results['converging_share']:.1f}% of the grid converges (rate < 1)")
    echo(f"wrote {out / 'results.json'}, {out / 'rates.npz'} and "
         f"{out / f'rates_{game_name}.png'}")
    return results


def _start(game, radius, seed):
    """The equilibrium plus a random direction of length ``radius``."""
    eq, unravel = ravel_pytree(game.equilibrium())
    direction, _ = ravel_pytree(game.init(jax.random.key(seed)))
    return unravel(eq + radius * direction / jnp.linalg.norm(direction))


def _steps_txt(s):
    return f"{int(s)} steps" if math.isfinite(s) else "does not converge"


def _plot(path, game_name, dyn_name, lr, mags, args, pred, smags, sargs, sim, best, sbest,
          steps):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    finite = np.concatenate([pred[np.isfinite(pred)], sim[np.isfinite(sim)]])
    vmin = max(finite.min(), 1) if finite.size else 1
    vmax = min(max(finite.max(), vmin * 10), 100 * steps) if finite.size else 10
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.85")
    for ax, m, a, z, (bj, bk), title in [
            (axes[0], mags, args, pred, best, "from the spectral radius"),
            (axes[1], smags, sargs, sim, sbest, f"simulated ({steps} steps)")]:
        zz = np.where(np.isfinite(z), z, np.nan)
        im = ax.pcolormesh(a / np.pi, m, zz, shading="nearest", cmap=cmap,
                           norm=LogNorm(vmin=vmin, vmax=vmax))
        for x in (0, 1):                                # real beta: arg 0 or pi
            ax.axvline(x, color="crimson", lw=2.5, alpha=0.8)
        if np.isfinite(z[bj, bk]):
            ax.plot(a[bk] / np.pi, m[bj], marker="*", ms=16, color="gold", mec="k")
        ax.set(xlabel="arg(beta) / pi", title=title)
    axes[0].set_ylabel("|beta|")
    fig.colorbar(im, ax=axes, label="steps to tolerance (grey: never)")
    fig.suptitle(f"{dyn_name} on {game_name}, lr={lr}  (red: real beta, star: best)")
    _io.write_png(path, fig)
    plt.close(fig)


def main(args) -> int:
    run(args.game, args.dynamics, lr=args.lr, grid=args.grid, sim_grid=args.sim_grid,
        steps=args.steps, tol=args.tol, radius=args.radius, seed=args.seed, out=args.out)
    return 0
