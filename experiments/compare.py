"""`gamedyn compare`: predicted vs measured linear rates of dynamics on games."""

from __future__ import annotations

import math
import time
from pathlib import Path

import jax
import numpy as np

import dynamics
from experiments import _io
from experiments._args import SEED_MAX, float_in, int_in
from experiments._progress import partial_writer, progress_bar
from experiments._rundir import output_folder
from experiments.registry import DYNAMICS, GAMES, describe_choices, resolve

__all__ = ["DEFAULT_GAMES", "DEFAULT_DYNAMICS", "fit_rate", "steps_to", "compare_one",
           "compute", "report", "run", "format_table", "add_arguments", "main"]

DEFAULT_GAMES = ("bilinear", "dirac_gan", "adversarial", "matching_pennies")
DEFAULT_DYNAMICS = ("simgd", "alternating", "momentum", "momentum_alternating",
                    "extragradient", "optimistic", "consensus")
TOL = 1e-6


def fit_rate(distance: np.ndarray, floor: float = 1e-12, ceil: float = 1e8) -> float:
    """Per-step contraction factor fitted to the tail of a distance curve.

    Least squares of log(distance) against step over the second half of the
    stretch where the distance is finite and within (floor, ceil): the
    asymptotic rate, free of start-up transients and of round-off at the floor.
    NaN when fewer than 4 usable points remain.
    """
    d = np.asarray(distance, dtype=float)
    ok = np.isfinite(d) & (d > floor) & (d < ceil)
    # The usable stretch ends at the first unusable point.
    end = int(np.argmin(ok)) if not ok.all() else len(d)
    start = end // 2
    if end - start < 4:
        return float("nan")
    t = np.arange(start, end)
    slope = np.polyfit(t, np.log(d[start:end]), 1)[0]
    return float(np.exp(slope))


def steps_to(distance: np.ndarray, tol: float = TOL) -> int | None:
    """First step at which the distance is at most ``tol`` (None if never)."""
    hit = np.flatnonzero(np.asarray(distance) <= tol)
    return int(hit[0]) if hit.size else None


def compare_one(game, dyn, params, steps: int) -> dict:
    """Predicted rate (spectral radius at the equilibrium) and a simulated run."""
    predicted = float(dynamics.spectral_radius(game, dyn, game.equilibrium()))
    traj = dynamics.simulate(game, dyn, params, steps, metrics=("distance",))
    dist = np.asarray(traj.metrics["distance"])
    diverged_at = int(traj.diverged_at)
    final = float(dist[-1])
    return {
        "predicted_rate": predicted,
        "measured_rate": fit_rate(dist),
        "steps_to_tol": steps_to(dist),
        "diverged_at": None if diverged_at < 0 else diverged_at,
        "final_distance": final if math.isfinite(final) else None,
        "distance": dist,
    }


def _fmt(x, spec=".5f"):
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def format_table(game_name: str, rows: dict, tol: float = TOL) -> str:
    w = max([len("dynamics")] + [len(name) for name in rows]) + 2     # name column
    head = (f"{'dynamics':<{w}}{'predicted rate':>16}{'measured rate':>15}"
            f"{'steps to ' + format(tol, '.0e'):>22}{'final distance':>16}")
    lines = [f"== {game_name} ==", head, "-" * len(head)]
    for name, r in rows.items():
        if r["steps_to_tol"] is not None:
            reach = str(r["steps_to_tol"])
        elif r["diverged_at"] is not None:
            reach = f"diverged at step {r['diverged_at']}"
        else:
            reach = "not reached"
        lines.append(f"{name:<{w}}{_fmt(r['predicted_rate']):>16}{_fmt(r['measured_rate']):>15}"
                     f"{reach:>22}{_fmt(r['final_distance'], '.3e'):>16}")
    return "\n".join(lines)


def _plot(path: Path, game_name: str, rows: dict, curves: dict, tol: float) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, r in rows.items():
        d = np.asarray(curves[name], dtype=float)
        d = np.where(np.isfinite(d) & (d > 0), d, np.nan)
        label = f"{name} (rho={_fmt(r['predicted_rate'], '.4f')})"
        ax.semilogy(np.arange(len(d)), d, label=label, lw=1.4)
        if r["diverged_at"] is not None:
            ax.axvline(r["diverged_at"], ls=":", lw=0.8, color=ax.lines[-1].get_color())
    ax.axhline(tol, color="0.5", lw=0.8, ls="--")
    ax.set_ylim(bottom=max(ax.get_ylim()[0], 1e-16))   # below that is round-off
    ax.set(xlabel="step", ylabel="distance to equilibrium", title=game_name)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    _io.write_png(path, fig)
    plt.close(fig)


HELP = "predicted vs measured convergence rates"
DESCRIPTION = ("Run dynamics on games from one start; print the predicted rate (spectral "
               "radius of the linearised step at the equilibrium), the measured rate "
               "(fitted to the distance curve), steps to distance 1e-6 or the step at which "
               "the run diverged, and the final distance.")
MAX_STEPS = 10**7


def add_arguments(p) -> None:
    p.add_argument("--game", action="append", metavar="NAME",
                   help=f"game(s), comma-separated or repeated; one of {', '.join(GAMES)} "
                   f"(default: {','.join(DEFAULT_GAMES)})")
    p.add_argument("--dynamics", action="append", metavar="NAME",
                   help=f"dynamics, comma-separated or repeated; one of {', '.join(DYNAMICS)} "
                   f"(default: {','.join(DEFAULT_DYNAMICS)})")
    p.add_argument("--steps", type=int_in(10, MAX_STEPS), default=4000,
                   help="steps per run, at least 10 to fit a rate (default 4000)")
    p.add_argument("--lr", type=float_in(0, 1e3, low_open=True), default=0.2,
                   help="step size (default 0.2)")
    p.add_argument("--beta", type=float_in(-1, 1, low_open=True, high_open=True),
                   default=-0.5, help="momentum coefficient of 'momentum' and "
                   "'momentum_alternating', in (-1, 1) (default -0.5)")
    p.add_argument("--seed", type=int_in(0, SEED_MAX), default=0,
                   help="PRNG seed of the start (default 0)")
    p.add_argument("--out", default="runs/compare", help="output folder (default runs/compare)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNGs")
    p.epilog = (describe_choices("games", GAMES) + "\n\n"
                + describe_choices("dynamics", DYNAMICS))


def _params_list(params):
    return [np.asarray(p).tolist() for p in jax.tree_util.tree_leaves(params)]


def compute(game_names=DEFAULT_GAMES, dynamics_names=DEFAULT_DYNAMICS, *, steps: int = 4000,
            lr: float = 0.2, beta: float = -0.5, seed: int = 0, progress=None,
            checkpoint=None) -> dict:
    """Every dynamics on every game from one seeded start: rates, steps, distance curves.

    Returns the results (what results.json holds) with the distance curves under
    ``"arrays"`` (``"game/dynamics"`` -> array).  ``progress(label)`` is called
    after each run and ``checkpoint(results)`` after each game.
    """
    game_names = resolve("game", game_names, GAMES)
    dynamics_names = resolve("dynamics", dynamics_names, DYNAMICS)
    options = {"beta": beta}
    results = {"command": "compare", "complete": False,
               "options": {"games": game_names, "dynamics": dynamics_names, "steps": steps,
                           "lr": lr, "beta": beta, "seed": seed, "tolerance": TOL},
               "environment": _io.environment(),
               "dynamics": {d: DYNAMICS[d].record(lr, options) for d in dynamics_names},
               "games": {}, "arrays": {}}
    t0 = time.perf_counter()
    for gname in game_names:
        game = GAMES[gname].build()
        params = game.init(jax.random.key(seed))
        rows = {}
        for dname in dynamics_names:
            row = compare_one(game, DYNAMICS[dname].build(lr, options), params, steps)
            results["arrays"][f"{gname}/{dname}"] = row.pop("distance")
            rows[dname] = row
            if progress is not None:
                progress(f"{gname}/{dname}")
        results["games"][gname] = {**GAMES[gname].record(), "start": _params_list(params),
                                   "runs": rows}
        results["elapsed_s"] = time.perf_counter() - t0
        if checkpoint is not None:
            checkpoint(results)
    results["complete"] = True
    return results


def report(results: dict, out, *, plots: bool = True, echo=print) -> None:
    """Print each game's table (``echo=None``: none); write results.json,
    distances.npz and a PNG per game."""
    out = Path(out)
    tol = results["options"]["tolerance"]
    for gname, g in results["games"].items():
        if echo is not None:
            echo(format_table(gname, g["runs"], tol) + "\n")
        if plots:
            curves = {d: results["arrays"][f"{gname}/{d}"] for d in g["runs"]}
            _plot(out / f"distance_{gname}.png", gname, g["runs"], curves, tol)
    _io.write_json(out / "results.json", {k: v for k, v in results.items() if k != "arrays"})
    _io.write_npz(out / "distances.npz", **results["arrays"])


def main(args) -> int:
    # Bad names exit 2 before any work (output_folder checks --out likewise).
    game_names = resolve("game", args.game or DEFAULT_GAMES, GAMES)
    dyn_names = resolve("dynamics", args.dynamics or DEFAULT_DYNAMICS, DYNAMICS)
    with output_folder(args.out) as tmp:
        with progress_bar(len(game_names) * len(dyn_names), "compare") as bar:
            write_partial = partial_writer(tmp)

            def checkpoint(results):           # each game's table as soon as it is done
                gname, g = list(results["games"].items())[-1]
                bar.write(format_table(gname, g["runs"], TOL) + "\n")
                write_partial(results)
            results = compute(game_names, dyn_names, steps=args.steps, lr=args.lr,
                              beta=args.beta, seed=args.seed, progress=bar.step,
                              checkpoint=checkpoint)
        report(results, tmp, plots=not args.no_plots, echo=None)
    print("wrote results.json, distances.npz"
          + (f" and {len(results['games'])} PNG{'s' * (len(results['games']) > 1)}"
             if not args.no_plots else "")
          + f" under {args.out}/")
    return 0


def run(game_names=DEFAULT_GAMES, dynamics_names=DEFAULT_DYNAMICS, *, out="runs/compare",
        plots: bool = True, echo=print, **kwargs) -> dict:
    """compute + report into ``out`` (replaced only once the run has finished)."""
    with output_folder(out) as tmp:
        results = compute(game_names, dynamics_names, **kwargs)
        report(results, tmp, plots=plots, echo=echo)
    return results
