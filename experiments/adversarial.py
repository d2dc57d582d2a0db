"""`gamedyn adversarial`: gradient evaluations to converge across the adversarialness family.

For gamma_max in [0, 1] (Lorraine et al. 2022), every method is tuned on a grid
(step size x momentum magnitude, 50 x 50 by default) and scored by the gradient
evaluations its best setting needs to shrink the distance to the equilibrium by
``tol``, predicted from the spectral radius of its linearised update:
ceil(log tol / log rho) x evaluations per step.

Momentum methods use the closed-form augmented matrix (real beta is heavy-ball
momentum) on each decoupled 2 x 2 block of the game's Jacobian: the game's
coordinates do not interact, so the full update matrix is block diagonal up to
a permutation and its spectral radius is the largest over the blocks.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import dynamics
import games
from experiments import _io
from experiments._args import float_in, int_in
from experiments._progress import partial_writer, progress_bar
from experiments._rundir import output_folder
from experiments.rates import steps_from_radius
from experiments.registry import UsageError

__all__ = ["add_arguments", "main", "compute", "report", "run", "METHODS",
           "coordinate_blocks", "momentum_radius"]

METHODS = ("GDA", "EG", "OG", "momentum+", "momentum-", "complex (arg pi/2)",
           "complex (best arg)")
EVALS_PER_STEP = {"EG": 2}


HELP = "gradient evaluations to converge vs adversarialness"
DESCRIPTION = ("Tune GDA, EG, OG, real and complex momentum on the adversarialness family "
               "and compare the gradient evaluations they need.")


def add_arguments(p) -> None:
    p.add_argument("--points", type=int_in(2, 1000), default=20,
                   help="gamma_max values in [0, 1] (default 20)")
    p.add_argument("--grid", type=int_in(2, 400), default=50,
                   help="step sizes and momentum magnitudes per method (default 50 x 50)")
    p.add_argument("--args", type=int_in(2, 180), default=13,
                   help="arg(beta) values in [0, pi] for 'complex (best arg)' (default 13)")
    p.add_argument("--tol", type=float_in(0, 1, low_open=True, high_open=True), default=1e-6,
                   help="shrink the distance by this factor, in (0, 1) (default 1e-6)")
    p.add_argument("--out", default="runs/adversarial",
                   help="output folder (default runs/adversarial)")


def coordinate_blocks(game) -> jnp.ndarray:
    """The 2 x 2 Jacobian blocks (x_k, y_k) of an adversarial game: shape (dim, 2, 2)."""
    J = games.jacobian(game, game.equilibrium())
    d = J.shape[0] // 2
    k = jnp.arange(d)
    idx = jnp.stack([k, d + k], axis=1)                    # (dim, 2)
    return J[idx[:, :, None], idx[:, None, :]]


@jax.jit
def momentum_radius(blocks, lr, beta):
    """max over blocks of rho(augmented_matrix(block, lr, beta)), vmapped over settings."""
    def one(lr, beta):
        R = jax.vmap(lambda b: dynamics.augmented_matrix(b, lr, beta))(blocks)
        return jnp.max(jnp.abs(jnp.linalg.eigvals(R)))
    return jax.vmap(one)(lr, beta)


def _gradient_radius(make):
    @jax.jit
    def f(game, lrs):
        return jax.vmap(lambda lr: dynamics.spectral_radius(game, make(lr),
                                                            game.equilibrium()))(lrs)
    return f


_GRADIENT = {"GDA": _gradient_radius(dynamics.simgd),
             "EG": _gradient_radius(dynamics.extragradient),
             "OG": _gradient_radius(dynamics.optimistic)}


def _best(rho, evals, tol, settings):
    cost = steps_from_radius(rho, tol) * evals
    i = int(np.argmin(cost))
    return {"evals": float(cost[i]), "spectral_radius": float(rho[i]),
            **{k: float(v[i]) for k, v in settings.items()}}


def evaluate(gamma_max: float, *, grid=50, n_args=13, tol=1e-6) -> dict:
    """Best gradient-evaluation count of every method at one gamma_max."""
    game = games.adversarial(gamma_max)
    lrs = np.logspace(-2.5, 0.5, grid)
    mags = np.linspace(0.0, 0.99, grid)
    out = {}
    for name, f in _GRADIENT.items():
        rho = np.asarray(f(game, jnp.asarray(lrs)))
        out[name] = _best(rho, EVALS_PER_STEP.get(name, 1), tol, {"lr": lrs})
    blocks = coordinate_blocks(game)
    L, M = (a.ravel() for a in np.meshgrid(lrs, mags, indexing="ij"))
    for name, beta in [("momentum+", M + 0j), ("momentum-", -M + 0j),
                       ("complex (arg pi/2)", 1j * M)]:
        rho = np.asarray(momentum_radius(blocks, jnp.asarray(L), jnp.asarray(beta)))
        out[name] = _best(rho, 1, tol, {"lr": L, "beta_abs": M})
    args = np.linspace(0.0, np.pi, n_args)
    L3, M3, A3 = (a.ravel() for a in np.meshgrid(lrs, mags, args, indexing="ij"))
    rho = np.asarray(momentum_radius(blocks, jnp.asarray(L3), jnp.asarray(M3 * np.exp(1j * A3))))
    out["complex (best arg)"] = _best(rho, 1, tol, {"lr": L3, "beta_abs": M3,
                                                    "beta_arg_over_pi": A3 / np.pi})
    return out


def format_table(rows: dict) -> str:
    head = f"{'gamma_max':>9} " + "".join(f"{m:>20}" for m in METHODS) + f"{'advantage':>11}"
    lines = ["gradient evaluations to converge (best setting per method; '-' = none converges)",
             head, "-" * len(head)]
    for g, r in rows.items():
        cells = "".join(f"{_evals_txt(r[m]['evals']):>20}" for m in METHODS)
        lines.append(f"{g:>9.3f} " + cells + f"{advantage(r):>10.2f}x")
    lines.append("advantage = fewest evaluations of GDA/EG/OG/real momentum divided by complex "
                 "momentum's (best arg)")
    return "\n".join(lines)


def _evals_txt(evals: float) -> str:
    return format(evals, ".0f") if np.isfinite(evals) else "-"


def advantage(row: dict) -> float:
    """Best non-complex method's evaluations over complex momentum's (best arg)."""
    best_other = min(row[m]["evals"] for m in METHODS[:5])
    return best_other / row["complex (best arg)"]["evals"]


def compute(points=20, *, grid=50, n_args=13, tol=1e-6, progress=None,
            checkpoint=None) -> dict:
    """Best gradient-evaluation counts of every method for ``points`` values of gamma_max.

    ``progress(label)`` is called after each gamma_max and ``checkpoint(results)``
    with the results so far.
    """
    if points < 2 or grid < 2 or n_args < 2:
        raise UsageError(f"--points, --grid and --args need at least 2; got {points}, {grid}, "
                         f"{n_args}.")
    if not 0 < tol < 1:
        raise UsageError(f"--tol must lie in (0, 1); got {tol}.")
    # 'complex (best arg)' builds grid^2 x args augmented 6 x 6 matrices per coordinate
    # (7) and their eigenvalues at once: refuse what would not fit.
    need = grid**2 * n_args * 7 * 36 * 8 * 4
    if need > dynamics.memory_budget():
        raise UsageError(f"--grid {grid} with --args {n_args} needs about "
                         f"{need / 2**30:.1f} GiB, more than the "
                         f"{dynamics.memory_budget() / 2**30:.1f} GiB available; pass a "
                         f"smaller --grid or --args.")
    results = {"command": "adversarial", "complete": False,
               "options": {"points": points, "grid": grid, "args": n_args, "tol": tol},
               "environment": _io.environment(),
               "game": {"factory": "games.adversarial",
                        "description": "adversarialness family (Lorraine et al. 2022), "
                        "gamma_k = linspace(0, gamma_max, 7), a = b = linspace(1/4, 4, 7)"},
               "methods": list(METHODS),
               "settings": {"lr": "logspace(-2.5, 0.5, grid)",
                            "beta_abs": "linspace(0, 0.99, grid)",
                            "beta_arg": "linspace(0, pi, args) for complex (best arg)"},
               "results": []}
    t0 = time.perf_counter()
    for g in np.linspace(0.0, 1.0, points):
        row = evaluate(float(g), grid=grid, n_args=n_args, tol=tol)
        results["results"].append({"gamma_max": float(g), "advantage": advantage(row), **row})
        results["elapsed_s"] = time.perf_counter() - t0
        if progress is not None:
            progress(f"gamma_max={g:.3f}")
        if checkpoint is not None:
            checkpoint(results)
    results["complete"] = True
    return results


def rows_of(results: dict) -> dict:
    """gamma_max -> {method: best setting} from ``compute``'s results."""
    return {r["gamma_max"]: {m: r[m] for m in METHODS} for r in results["results"]}


def report(results: dict, out, *, echo=print) -> None:
    """Print the table; write results.json and adversarial.png."""
    rows = rows_of(results)
    echo(format_table(rows))
    _plot(Path(out) / "adversarial.png", np.array(list(rows)), rows)
    _io.write_json(Path(out) / "results.json", results)


def run(points=20, *, grid=50, n_args=13, tol=1e-6, out="runs/adversarial", echo=print):
    """compute + report into ``out``; returns gamma_max -> {method: best setting}."""
    with output_folder(out) as tmp:
        results = compute(points, grid=grid, n_args=n_args, tol=tol)
        report(results, tmp, echo=echo)
    return rows_of(results)


def _plot(path, gammas, rows):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    for m in METHODS:
        y = np.array([rows[float(g)][m]["evals"] for g in gammas])
        ax.semilogy(gammas, np.where(np.isfinite(y), y, np.nan), marker="o", ms=3,
                    label=m, lw=2.2 if m.startswith("complex") else 1.2)
    ax.set(xlabel="max adversarialness gamma_max", ylabel="gradient evaluations to converge",
           title="adversarialness family: tuned methods")
    ax.legend(fontsize=7)
    fig.tight_layout()
    _io.write_png(path, fig)
    plt.close(fig)


def main(args) -> int:
    with output_folder(args.out) as tmp:
        with progress_bar(args.points, "adversarial") as bar:
            results = compute(args.points, grid=args.grid, n_args=args.args, tol=args.tol,
                              progress=bar.step, checkpoint=partial_writer(tmp))
        report(results, tmp)
    print(f"wrote results.json and adversarial.png under {args.out}/")
    return 0
