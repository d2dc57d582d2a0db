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
from experiments._args import SEED_MAX, float_in, int_in
from experiments._progress import progress_bar
from experiments._rundir import output_folder
from experiments.registry import GAMES, UsageError, describe_choices, resolve

__all__ = ["add_arguments", "main", "compute", "report", "run", "steps_from_radius",
           "RATE_DYNAMICS"]

RATE_DYNAMICS = {"complex_momentum": False, "complex_momentum_alternating": True}
MAX_GRID, MAX_SIM_GRID, MAX_STEPS = 1024, 256, 10**6


def steps_from_radius(rho, tol: float):
    """Steps to shrink the distance by ``tol`` at linear rate ``rho`` (inf if rho >= 1)."""
    rho = np.asarray(rho, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        steps = np.ceil(np.log(tol) / np.log(rho))
    return np.where((rho < 1) & np.isfinite(rho), steps, np.inf)


HELP = "rate heatmaps of complex momentum over arg(beta) x |beta|"
DESCRIPTION = ("Steps to converge for complex momentum over a grid of beta, from the "
               "spectral radius (fine grid) and from simulation (coarse grid).")


def add_arguments(p) -> None:
    p.add_argument("--game", default="dirac_gan", metavar="NAME",
                   help=f"one of {', '.join(GAMES)} (default dirac_gan)")
    p.add_argument("--dynamics", default="complex_momentum", metavar="NAME",
                   help=f"one of {', '.join(RATE_DYNAMICS)} (default complex_momentum)")
    p.add_argument("--lr", type=float_in(0, 1e3, low_open=True), default=0.5,
                   help="step size (default 0.5)")
    p.add_argument("--grid", type=int_in(2, MAX_GRID), default=64,
                   help=f"arg x |beta| points for the spectral-radius heatmap, at most "
                   f"{MAX_GRID} (default 64)")
    p.add_argument("--sim-grid", type=int_in(2, MAX_SIM_GRID), default=16,
                   help=f"points per axis for the simulated heatmap, at most {MAX_SIM_GRID} "
                   f"(default 16)")
    p.add_argument("--steps", type=int_in(1, MAX_STEPS), default=2000,
                   help="simulated steps (default 2000)")
    p.add_argument("--tol", type=float_in(0, 1, low_open=True, high_open=True), default=1e-6,
                   help="target distance relative to the start's, in (0, 1) (default 1e-6)")
    p.add_argument("--radius", type=float_in(0, 1e3, low_open=True), default=0.1,
                   help="distance of the simulated start from the equilibrium, in (0, 1000] "
                   "(default 0.1: near it, where the linear prediction applies)")
    p.add_argument("--seed", type=int_in(0, SEED_MAX), default=0,
                   help="PRNG seed of the start's direction")
    p.add_argument("--out", default="runs/rates", help="output folder (default runs/rates)")
    p.epilog = describe_choices("games", GAMES)


def _axes(n):
    return np.linspace(0.0, 0.99, n), np.linspace(0.0, np.pi, n)


def _check_grid_memory(game, grid, sim_grid, steps):
    # Per point: the linearised step (state size squared) and its eigenvalues; per
    # simulated point, the state and the carry of the scan.
    state = dynamics.complex_momentum(0.1, 0.5).init(game.equilibrium())
    d = dynamics.realify(state)[0].size
    need = 8 * (grid**2 * 4 * d * d + sim_grid**2 * 8 * d)
    if need > dynamics.memory_budget():
        raise UsageError(f"a {grid} x {grid} grid on this game needs about "
                         f"{need / 2**30:.1f} GiB, more than the "
                         f"{dynamics.memory_budget() / 2**30:.1f} GiB available; pass a "
                         f"smaller --grid.")


def compute(game_name="dirac_gan", dynamics_name="complex_momentum", *, lr=0.5, grid=64,
            sim_grid=16, steps=2000, tol=1e-6, radius=0.1, seed=0, progress=None) -> dict:
    """Spectral-radius heatmap (fine grid) and simulated heatmap (coarse grid).

    Returns the results (what results.json holds), the heatmaps under ``"arrays"``.
    ``progress(done, total, label)`` counts grid points of both heatmaps.
    """
    [game_name] = resolve("game", [game_name], GAMES)
    [dynamics_name] = resolve("dynamics", [dynamics_name], RATE_DYNAMICS)
    alternating = RATE_DYNAMICS[dynamics_name]
    game = GAMES[game_name].build()
    _check_grid_memory(game, grid, sim_grid, steps)
    t0 = time.perf_counter()
    mags, args = _axes(grid)
    total = grid**2 + sim_grid**2
    report = None if progress is None else (
        lambda offset, label: lambda done, _: progress(offset + done, total, label))
    rho = dynamics.spectral_radius_grid(game, [lr], mags, args, alternating=alternating,
                                        progress=report and report(0, "spectral radius"))[0]
    start = _start(game, radius, seed)
    smags, sargs = _axes(sim_grid)
    sim = dynamics.steps_to_tolerance_grid(
        game, start, [lr], smags, sargs, steps=steps, tol=tol * radius,
        alternating=alternating, progress=report and report(grid**2, "simulation"))[0]
    pred = steps_from_radius(rho, tol)
    eq = game.equilibrium()
    baselines = {n: float(dynamics.spectral_radius(game, d, eq)) for n, d in
                 [("simgd", dynamics.simgd(lr)), ("alternating GD", dynamics.alternating(lr))]}
    j, k = np.unravel_index(np.argmin(rho), rho.shape)
    real_cols = [0, grid - 1]                          # arg 0 and arg pi: real beta
    jr, kr = np.unravel_index(np.argmin(rho[:, real_cols]), (grid, 2))
    sj, sk = np.unravel_index(np.argmin(sim), sim.shape)
    return {
        "command": "rates", "complete": True,
        "options": {"game": game_name, "dynamics": dynamics_name, "lr": lr, "grid": grid,
                    "sim_grid": sim_grid, "steps": steps, "tol": tol, "radius": radius,
                    "seed": seed},
        "environment": _io.environment(),
        "game": {**GAMES[game_name].record(), "equilibrium": _leaves_list(eq),
                 "start": _leaves_list(start)},
        "dynamics": {"factory": "dynamics.complex_momentum",
                     "hyperparameters": {"lr": lr, "alternating": alternating,
                                         "beta": "|beta| e^(i arg beta) over the grid"}},
        "best": {"index": [int(j), int(k)], "beta_abs": mags[j], "beta_arg": args[k],
                 "beta_arg_over_pi": args[k] / np.pi, "spectral_radius": rho[j, k],
                 "steps_predicted": pred[j, k]},
        "best_real": {"beta": mags[jr] * (1 if kr == 0 else -1),
                      "spectral_radius": rho[jr, real_cols[kr]],
                      "steps_predicted": pred[jr, real_cols[kr]]},
        "best_simulated": {"index": [int(sj), int(sk)], "beta_abs": smags[sj],
                           "beta_arg": sargs[sk], "steps": sim[sj, sk]},
        "baseline_rates": baselines,
        "converging_share": float(np.mean(rho < 1)),
        "elapsed_s": time.perf_counter() - t0,
        "arrays": {"mags": mags, "args": args, "spectral_radius": rho, "steps_predicted": pred,
                   "sim_mags": smags, "sim_args": sargs, "steps_simulated": sim},
    }


def report(results: dict, out, *, echo=print) -> None:
    """Print the summary; write results.json, rates.npz and the heatmap PNG."""
    out = Path(out)
    o, a = results["options"], results["arrays"]
    best, best_real, best_sim = results["best"], results["best_real"], results["best_simulated"]
    png = out / f"rates_{o['game']}.png"
    _plot(png, o["game"], o["dynamics"], o["lr"], a["mags"], a["args"], a["steps_predicted"],
          a["sim_mags"], a["sim_args"], a["steps_simulated"], best["index"],
          best_sim["index"], o["steps"])
    _io.write_json(out / "results.json", {k: v for k, v in results.items() if k != "arrays"})
    _io.write_npz(out / "rates.npz", **a)
    sim_txt = (f"{int(best_sim['steps'])} steps" if np.isfinite(best_sim["steps"])
               else f"not reached in {o['steps']} steps")
    echo(f"{o['dynamics']} on {o['game']}, lr={o['lr']}, steps to {o['tol']:g} x the start "
         f"distance")
    echo(f"  best setting   : beta = {best['beta_abs']:.3f} * exp(i * "
         f"{best['beta_arg_over_pi']:.3f} pi)  rate {best['spectral_radius']:.5f}  "
         f"~{_steps_txt(best['steps_predicted'])}")
    echo(f"  best real beta : beta = {best_real['beta']:+.3f}  rate "
         f"{best_real['spectral_radius']:.5f}  {_steps_txt(best_real['steps_predicted'])}")
    for name, r in results["baseline_rates"].items():
        echo(f"  {name:<15}: rate {r:.5f}  {_steps_txt(steps_from_radius(r, o['tol']))}")
    echo(f"  simulated best : beta = {best_sim['beta_abs']:.3f} * exp(i * "
         f"{best_sim['beta_arg'] / np.pi:.3f} pi)  {sim_txt}")
    echo(f"  {100 * results['converging_share']:.1f}% of the grid converges (rate < 1)")


def _leaves_list(params):
    return [np.asarray(p).tolist() for p in jax.tree_util.tree_leaves(params)]


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
    vmax = max(vmax, vmin * 10)         # a tiny --steps must not invert the colour scale
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
    resolve("game", [args.game], GAMES)             # bad names exit 2 before any work
    resolve("dynamics", [args.dynamics], RATE_DYNAMICS)
    with output_folder(args.out) as tmp:
        with progress_bar(args.grid**2 + args.sim_grid**2, "rates", unit="point") as bar:
            results = compute(args.game, args.dynamics, lr=args.lr, grid=args.grid,
                              sim_grid=args.sim_grid, steps=args.steps, tol=args.tol,
                              radius=args.radius, seed=args.seed,
                              progress=lambda done, total, label: bar.to(done, label))
        report(results, tmp)
    print(f"wrote results.json, rates.npz and rates_{args.game}.png under {args.out}/")
    return 0


def run(game_name="dirac_gan", dynamics_name="complex_momentum", *, out="runs/rates",
        echo=print, **kwargs) -> dict:
    """compute + report into ``out`` (replaced only once the run has finished)."""
    with output_folder(out) as tmp:
        results = compute(game_name, dynamics_name, **kwargs)
        report(results, tmp, echo=echo)
    return results
