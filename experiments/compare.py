"""`gamedyn compare`: predicted vs measured linear rates of dynamics on games."""

from __future__ import annotations

import math
import time
from pathlib import Path

import jax
import numpy as np

import dynamics
from experiments import _io
from experiments._progress import Progress
from experiments.registry import DYNAMICS, GAMES

__all__ = ["DEFAULT_GAMES", "DEFAULT_DYNAMICS", "fit_rate", "steps_to", "compare_one",
           "run", "format_table"]

DEFAULT_GAMES = ("bilinear", "dirac_gan", "adversarial", "matching_pennies")
DEFAULT_DYNAMICS = ("simgd", "alternating", "momentum", "extragradient", "optimistic",
                    "consensus")
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
    head = (f"{'dynamics':<16}{'predicted rate':>16}{'measured rate':>15}"
            f"{'steps to ' + format(tol, '.0e'):>22}{'final distance':>16}")
    lines = [f"== {game_name} ==", head, "-" * len(head)]
    for name, r in rows.items():
        if r["steps_to_tol"] is not None:
            reach = str(r["steps_to_tol"])
        elif r["diverged_at"] is not None:
            reach = f"diverged at step {r['diverged_at']}"
        else:
            reach = "not reached"
        lines.append(f"{name:<16}{_fmt(r['predicted_rate']):>16}{_fmt(r['measured_rate']):>15}"
                     f"{reach:>22}{_fmt(r['final_distance'], '.3e'):>16}")
    return "\n".join(lines)


def _plot(path: Path, game_name: str, rows: dict, tol: float) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, r in rows.items():
        d = np.asarray(r["distance"], dtype=float)
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


def run(game_names=DEFAULT_GAMES, dynamics_names=DEFAULT_DYNAMICS, *, steps: int = 4000,
        lr: float = 0.2, seed: int = 0, out="runs/compare", plots: bool = True,
        echo=print) -> dict:
    """Run every dynamics on every game from one seeded start; write results under ``out``.

    Each game's table is printed (and results.json rewritten) as soon as it is
    done, so an interrupted run keeps what it finished.
    """
    out = Path(out)
    config = {"games": list(game_names), "dynamics": list(dynamics_names), "steps": steps,
              "lr": lr, "seed": seed, "tolerance": TOL, "x64": jax.config.jax_enable_x64}
    results = {"command": "compare", "config": config, "games": {}}
    curves = {}
    t0 = time.perf_counter()
    with Progress(len(game_names) * len(dynamics_names), "compare") as bar:
        for gname in game_names:
            game = GAMES[gname]()
            params = game.init(jax.random.key(seed))
            rows = {}
            for dname in dynamics_names:
                rows[dname] = compare_one(game, DYNAMICS[dname][0](lr), params, steps)
                curves[f"{gname}/{dname}"] = rows[dname]["distance"]
                bar.update(f"{gname}/{dname}")
            echo(format_table(gname, rows))
            echo("")
            results["games"][gname] = {d: {k: v for k, v in r.items() if k != "distance"}
                                       for d, r in rows.items()}
            results["elapsed_s"] = time.perf_counter() - t0
            _io.write_json(out / "results.json", results)
            _io.write_npz(out / "distances.npz", **curves)
            if plots:
                _plot(out / f"distance_{gname}.png", gname, rows, TOL)
    echo(f"wrote {out / 'results.json'}, {out / 'distances.npz'}"
         + (f" and {len(game_names)} PNGs" if plots else "") + f" under {out}/")
    return results
