"""`gamedyn lyapunov`: the top Lyapunov exponent of a learning dynamics over a grid of starts.

On a two-player game with one parameter per player (the small IPD, matching
pennies, their mixture) every start (theta_1, theta_2) of a square grid gets the
finite-time top exponent of simultaneous GD (or LOLA) by
``dynamics.lyapunov_exponents`` (all starts vmapped, in chunks).  Starts whose
trajectories part for different outcomes (separatrices) light up; the
bifurcation ``dynamics.find_bifurcation`` reaches from ``--start`` is marked,
with the game Jacobian's eigenvalues there and whether Ridge Rider's saddle
criterion (a real negative eigenvalue) sees it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import dynamics
import games
import search
from experiments import _io
from experiments._args import SEED_MAX, float_in, int_in
from experiments._progress import progress_bar
from experiments._rundir import output_folder
from experiments.registry import UsageError

__all__ = ["GAMES", "DEFAULTS", "compute", "report", "add_arguments", "main", "make_game"]

GAMES = {
    "small_ipd": "the small IPD (one cooperation logit per player, discount 0.9)",
    "matching_pennies": "matching pennies (sigmoid strategies; purely rotational)",
    "mix": "tau * matching pennies + (1 - tau) * small IPD (--tau)",
}
DYNAMICS = {"simgd": "simultaneous GD, step --lr", "lola": "exact LOLA, step --lr, eta 1"}
DEFAULTS = dict(game="small_ipd", dynamics="simgd", tau=0.95, lr=1.0, grid=64, low=-3.0,
                high=3.0, steps=20, start=(1.0, 1.0), iters=100, ascent_lr=0.1, seed=0,
                out="runs/lyapunov")
CHUNK = 1024          # starts per compiled call


def make_game(name: str, tau: float):
    if name == "small_ipd":
        return games.small_ipd()
    if name == "matching_pennies":
        return games.matching_pennies()
    if name == "mix":
        return games.mix(games.matching_pennies(), games.small_ipd(), tau)
    raise UsageError(f"unknown game {name!r}; choose from {', '.join(GAMES)}.")


def make_dynamics(name: str, lr: float):
    if name == "simgd":
        return dynamics.simgd(lr)
    if name == "lola":
        return dynamics.lola(lr, 1.0)
    raise UsageError(f"unknown dynamics {name!r}; choose from {', '.join(DYNAMICS)}.")


def compute(game: str = DEFAULTS["game"], dyn: str = DEFAULTS["dynamics"], *,
            tau: float = DEFAULTS["tau"], lr: float = DEFAULTS["lr"],
            grid: int = DEFAULTS["grid"], low: float = DEFAULTS["low"],
            high: float = DEFAULTS["high"], steps: int = DEFAULTS["steps"],
            start=DEFAULTS["start"], iters: int = DEFAULTS["iters"],
            ascent_lr: float = DEFAULTS["ascent_lr"], seed: int = DEFAULTS["seed"],
            progress=None) -> dict:
    """The exponent heatmap and the bifurcation found from ``start``; what
    results.json holds, with the heatmap under ``"arrays"``."""
    if not low < high:
        raise UsageError(f"the grid needs low < high; got low={low}, high={high}.")
    g, d = make_game(game, tau), make_dynamics(dyn, lr)
    key = jax.random.key(seed)
    axis = np.linspace(low, high, grid)
    a, b = np.meshgrid(axis, axis, indexing="xy")      # rows: theta_2, columns: theta_1
    starts = np.stack([a.ravel(), b.ravel()], axis=1)

    @jax.jit
    def chunk(x):
        return jax.vmap(lambda p: dynamics.lyapunov_exponents(
            g, d, (p[0], p[1]), steps, key=key).exponents[0])(x)

    t0 = time.perf_counter()
    out = []
    for i in range(0, len(starts), CHUNK):
        part = starts[i:i + CHUNK]
        pad = CHUNK - len(part)
        x = jnp.asarray(np.pad(part, ((0, pad), (0, 0)), mode="edge"))
        out.append(np.asarray(chunk(x))[:len(part)])
        if progress is not None:
            progress(i + len(part), len(starts))
    heat = np.concatenate(out).reshape(grid, grid)
    grid_s = time.perf_counter() - t0
    p0 = tuple(jnp.asarray(float(v)) for v in start)
    bif = dynamics.find_bifurcation(g, d, p0, steps=steps, lr=ascent_lr, iters=iters, key=key)
    point = [float(v) for v in bif.params]
    ev = np.linalg.eigvals(np.asarray(jax.jit(games.jacobian)(g, bif.params)))
    saddle_values, _ = search.saddle_directions(g, bif.params)
    finite = np.isfinite(heat)
    k = int(np.argmax(np.where(finite, heat, -np.inf)))
    return {
        "command": "lyapunov", "complete": True,
        "options": {"game": game, "dynamics": dyn, "tau": tau, "lr": lr, "grid": grid,
                    "low": low, "high": high, "steps": steps, "start": list(start),
                    "iters": iters, "ascent_lr": ascent_lr, "seed": seed},
        "environment": _io.environment(),
        "game": {"name": game, "description": GAMES[game]},
        "dynamics": {"name": dyn, "description": DYNAMICS[dyn]},
        "grid_max": {"exponent": float(heat.flat[k]), "point": starts[k].tolist()},
        "non_finite_starts": int((~finite).sum()),
        "bifurcation": {"start": list(start), "point": point,
                        "exponent": float(bif.exponents[0]),
                        "objective_first": float(bif.objective[0]),
                        "jacobian_eigenvalues": [[float(e.real), float(e.imag)] for e in ev],
                        "saddle_criterion": len(saddle_values) > 0},
        "seconds": {"grid": grid_s, "total": time.perf_counter() - t0},
        "arrays": {"axis": axis, "exponent": heat},
    }


def format_table(res: dict) -> str:
    o, b = res["options"], res["bifurcation"]
    ev = ", ".join(f"{re:.3f}{im:+.3f}i" for re, im in b["jacobian_eigenvalues"])
    lines = [f"== lyapunov: {res['game']['description']}; {res['dynamics']['description']} "
             f"(lr {o['lr']:g}), {o['steps']}-step exponents ==",
             f"grid {o['grid']} x {o['grid']} over [{o['low']:g}, {o['high']:g}]^2: largest "
             f"exponent {res['grid_max']['exponent']:.4f} at "
             f"({res['grid_max']['point'][0]:.2f}, {res['grid_max']['point'][1]:.2f})"
             + (f"; {res['non_finite_starts']} starts diverged" if res["non_finite_starts"]
                else ""),
             f"ascent from ({b['start'][0]:g}, {b['start'][1]:g}): exponent "
             f"{b['objective_first']:.4f} -> {b['exponent']:.4f} at "
             f"({b['point'][0]:.3f}, {b['point'][1]:.3f})",
             f"game Jacobian there: eigenvalues {ev}; Ridge Rider's saddle criterion "
             + ("sees it (a real negative eigenvalue)" if b["saddle_criterion"]
                else "does not see it (no real negative eigenvalue)")]
    return "\n".join(lines)


def _plot(res: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    a, o, b = res["arrays"], res["options"], res["bifurcation"]
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    im = ax.imshow(a["exponent"], origin="lower", cmap="magma", aspect="equal",
                   extent=(o["low"], o["high"], o["low"], o["high"]))
    fig.colorbar(im, ax=ax, label=f"top {o['steps']}-step exponent")
    ax.plot(*b["start"], "o", mfc="none", mec="c", label="ascent start")
    ax.plot(*b["point"], "*", c="c", ms=12, label="bifurcation found")
    ax.set(xlabel="theta_1", ylabel="theta_2", title=f"{o['game']}, {o['dynamics']}")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    _io.write_png(path, fig)
    plt.close(fig)


def report(res: dict, out, *, plots: bool = True, echo=print) -> list[str]:
    out = Path(out)
    echo(format_table(res))
    written = ["results.json", "exponents.npz"]
    if plots:
        _plot(res, out / "lyapunov.png")
        written.append("lyapunov.png")
    _io.write_json(out / "results.json", {k: v for k, v in res.items() if k != "arrays"})
    _io.write_npz(out / "exponents.npz", **res["arrays"])
    return written


HELP = "heatmap of the top Lyapunov exponent over starts, and the bifurcation found"
DESCRIPTION = __doc__.split("\n\n")[1]


def _pair(text: str):
    try:
        a, b = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be two numbers 'a,b'; got {text!r}") from None
    if not all(np.isfinite([a, b])):
        raise argparse.ArgumentTypeError(f"must be finite; got {text!r}")
    return (a, b)


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    d = DEFAULTS
    parser.add_argument("--game", default=d["game"], choices=GAMES,
                        help=f"the game (default {d['game']}): " + "; ".join(
                            f"{k}: {v}" for k, v in GAMES.items()))
    parser.add_argument("--dynamics", default=d["dynamics"], choices=DYNAMICS,
                        help=f"the learning dynamics (default {d['dynamics']})")
    parser.add_argument("--tau", type=float_in(0, 1), default=d["tau"],
                        help=f"mix: weight of matching pennies (default {d['tau']})")
    parser.add_argument("--lr", type=float_in(0, 100, low_open=True), default=d["lr"],
                        help=f"step size (default {d['lr']})")
    parser.add_argument("--grid", type=int_in(2, 1024), default=d["grid"],
                        help=f"grid points per axis (default {d['grid']})")
    parser.add_argument("--low", type=float_in(-1e3, 1e3), default=d["low"],
                        help=f"lower end of both axes (default {d['low']})")
    parser.add_argument("--high", type=float_in(-1e3, 1e3), default=d["high"],
                        help=f"upper end of both axes (default {d['high']})")
    parser.add_argument("--steps", type=int_in(1, 10**5), default=d["steps"],
                        help=f"horizon of the exponents (default {d['steps']})")
    parser.add_argument("--start", type=_pair, default=d["start"],
                        help="start of the bifurcation search, 'a,b' (default 1,1)")
    parser.add_argument("--iters", type=int_in(1, 10**5), default=d["iters"],
                        help=f"ascent steps (default {d['iters']})")
    parser.add_argument("--seed", type=int_in(0, SEED_MAX), default=d["seed"],
                        help="seed of the exponents' initial frames (default 0)")
    parser.add_argument("--out", default=d["out"], help=f"output folder (default {d['out']})")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG")
    return parser


def main(args: argparse.Namespace) -> int:
    if not args.low < args.high:
        raise UsageError(f"--low must be below --high; got {args.low} and {args.high}.")
    with output_folder(args.out) as tmp:
        with progress_bar(args.grid ** 2, "lyapunov", unit="start") as bar:
            res = compute(args.game, args.dynamics, tau=args.tau, lr=args.lr, grid=args.grid,
                          low=args.low, high=args.high, steps=args.steps, start=args.start,
                          iters=args.iters, seed=args.seed,
                          progress=lambda done, total: bar.to(done))
        written = report(res, tmp, plots=not args.no_plots)
    print(f"wrote {', '.join(written)} under {args.out}/")
    return 0
