"""`gamedyn sweep`: any dynamics over a grid of hyperparameters, on every device.

One compiled, vmapped ``dynamics.sweep`` call per chunk, the grid sharded over
all devices (with ``--distributed``, of all processes: run the same command on
every host, e.g. under ``srun``); prints the best points, writes a heatmap for
2-D grids, results.json and sweep.npz (only process 0 writes).
"""

from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp
import numpy as np

import dynamics
from experiments import _io
from experiments._args import SEED_MAX, float_in, int_in
from experiments._progress import progress_bar
from experiments._rundir import output_folder
from experiments.rates import _start
from experiments.registry import GAMES, UsageError, describe_choices, resolve

__all__ = ["DYNAMICS", "DEFAULTS", "parse_grid", "compute", "report", "add_arguments", "main"]


def _complex_momentum(lr, beta_abs, beta_arg):
    return dynamics.complex_momentum(lr, beta_abs * jnp.exp(1j * beta_arg))


def _momentum_alternating(lr, beta):
    return dynamics.momentum(lr, beta, alternating=True)


# name -> (factory of the grid's names, description); module-level functions so
# the compiled programs are reused.
DYNAMICS = {
    "simgd": (dynamics.simgd, "simultaneous gradient descent (lr)"),
    "alternating": (dynamics.alternating, "alternating gradient descent (lr)"),
    "momentum": (dynamics.momentum, "heavy-ball momentum (lr, beta)"),
    "momentum_alternating": (_momentum_alternating,
                             "heavy-ball momentum, alternating updates (lr, beta)"),
    "extragradient": (dynamics.extragradient, "extragradient (lr)"),
    "optimistic": (dynamics.optimistic, "optimistic gradient descent (lr)"),
    "consensus": (dynamics.consensus, "consensus optimisation (lr, gamma)"),
    "lola": (dynamics.lola, "exact LOLA (lr, eta)"),
    "complex_momentum": (_complex_momentum,
                         "complex momentum, beta = beta_abs * exp(i beta_arg) (lr, beta_abs, "
                         "beta_arg)"),
}
MEASURES = {"rate": "spectral radius of the step map at the equilibrium",
            "steps": "simulated steps until the distance is --tol x the start's",
            "final": "losses and distance after --steps steps"}
DEFAULTS = dict(game="bilinear", dynamics="momentum_alternating",
                grid="lr=0.01:0.5:64,beta=-0.9:0.9:64", measure="rate", steps=1000,
                tol=1e-6, radius=0.1, seed=0, out="runs/sweep")
MAX_POINTS = 1 << 24


def parse_grid(text: str) -> dict:
    """``"lr=0.01:0.5:64,beta=-0.9:0.9:64"`` -> {name: np.linspace(lo, hi, n)};
    ``name=v`` is a single value."""
    specs = {}
    for item in (s.strip() for s in str(text).split(",")):
        if not item:
            continue
        name, eq, spec = item.partition("=")
        name = name.strip()
        if not eq or not name:
            raise UsageError(f"--grid entries are name=low:high:count or name=value; got "
                             f"{item!r}.")
        if name in specs:
            raise UsageError(f"--grid names {name!r} twice.")
        if name in ("start", "game"):
            raise UsageError(f"--grid {name}=...: stacked {name}s are for dynamics.sweep in "
                             f"Python; here the grid names the dynamics' hyperparameters "
                             f"(the start is --radius and --seed, the game --game).")
        parts = spec.split(":")
        try:
            if len(parts) == 1:
                lo = hi = float(parts[0])
                count = 1
            elif len(parts) == 3:
                lo, hi, count = float(parts[0]), float(parts[1]), int(parts[2])
                if count < 1:
                    raise ValueError
            else:
                raise ValueError
        except ValueError:
            raise UsageError(f"--grid {name}={spec!r}: write low:high:count (count a "
                             f"positive integer) or a single number.") from None
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise UsageError(f"--grid {name}={spec!r} is not finite.")
        specs[name] = (lo, hi, count)
    if not specs:
        raise UsageError("--grid is empty; e.g. --grid lr=0.01:0.5:64,beta=-0.9:0.9:64.")
    points = math.prod(count for _, _, count in specs.values())
    if points > MAX_POINTS:             # checked before any array is built
        raise UsageError(f"--grid has {points} points, more than {MAX_POINTS}; use fewer "
                         f"points per axis.")
    return {name: np.linspace(lo, hi, count) for name, (lo, hi, count) in specs.items()}


def compute(game: str = DEFAULTS["game"], dyn: str = DEFAULTS["dynamics"], *,
            grid=DEFAULTS["grid"], measure: str = DEFAULTS["measure"],
            steps: int = DEFAULTS["steps"], tol: float = DEFAULTS["tol"],
            radius: float = DEFAULTS["radius"], seed: int = DEFAULTS["seed"],
            progress=None) -> dict:
    """Run the sweep; returns results.json's content with the arrays under ``"arrays"``."""
    resolve("game", [game], GAMES)
    resolve("dynamics", [dyn], DYNAMICS)
    if measure not in MEASURES:
        raise UsageError(f"unknown measure {measure!r}; choose from {', '.join(MEASURES)}.")
    if not 0 < tol < 1:
        raise UsageError(f"tol is relative to the start's distance and must lie in (0, 1); "
                         f"got {tol!r}.")
    axes = (parse_grid(grid) if isinstance(grid, str)
            else {k: np.atleast_1d(np.asarray(v)) for k, v in dict(grid).items()})
    g = GAMES[game].build()
    factory = DYNAMICS[dyn][0]
    start = _start(g, radius, seed)
    dist0 = float(dynamics.distance_to_equilibrium(g, start))
    t0 = time.perf_counter()
    try:
        res = dynamics.sweep(g, factory, axes, measure=measure, params=start,
                             steps=steps, tol=tol * dist0, progress=progress)
    except (TypeError, ValueError) as err:
        raise UsageError(str(err)) from None
    seconds = time.perf_counter() - t0
    key = {"rate": "spectral_radius", "steps": "steps", "final": "final_distance"}[measure]
    values = res.values[key]
    finite = np.isfinite(values)
    return {"command": "sweep", "complete": True,
            "options": {"game": game, "dynamics": dyn, "grid": {k: [float(v[0]), float(v[-1]),
                                                                     int(v.size)]
                                                                 for k, v in axes.items()},
                        "measure": measure, "steps": steps, "tol": tol, "radius": radius,
                        "seed": seed},
            "environment": _io.environment(),
            "devices": {"count": jax.device_count(), "processes": jax.process_count(),
                        "platform": jax.default_backend()},
            "game": GAMES[game].record(),
            "dynamics": {"name": dyn, "description": DYNAMICS[dyn][1]},
            "quantity": key, "points": int(values.size), "finite_points": int(finite.sum()),
            "best": res.best(key, 5),
            "seconds": seconds, "phase_seconds": res.seconds, "arrays": res.arrays()}


def format_table(res: dict) -> str:
    o, q = res["options"], res["quantity"]
    names = list(o["grid"])
    lines = [f"== {res['dynamics']['description']} on {o['game']}: {q} over "
             + " x ".join(f"{k} {v[0]:g}..{v[1]:g} ({v[2]})" for k, v in o["grid"].items())
             + f"; {res['points']} points on {res['devices']['count']} device(s), "
             f"{res['seconds']:.2f} s ("
             + ", ".join(f"{k} {v:.2f}" for k, v in res["phase_seconds"].items()) + ") ==",
             "  ".join(f"{n:>10}" for n in names) + f"  {q:>16}"]
    for row in res["best"]:
        lines.append("  ".join(f"{row[n]:>10.4g}" for n in names) + f"  {row[q]:>16.8g}")
    if not res["best"]:
        lines.append("(no finite point)")
    lines.append(f"{res['finite_points']} of {res['points']} points finite")
    return "\n".join(lines)


def _plot(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    a, q = res["arrays"], res["quantity"]
    names = [n for n in res["options"]["grid"] if a[f"axis/{n}"].size > 1]
    z = np.squeeze(np.asarray(a[q], float))
    x, y = a[f"axis/{names[1]}"], a[f"axis/{names[0]}"]
    fig, ax = plt.subplots(figsize=(6, 4.6))
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.85")
    im = ax.pcolormesh(x, y, np.where(np.isfinite(z), z, np.nan), shading="nearest",
                       cmap=cmap)
    if res["best"]:
        ax.plot(res["best"][0][names[1]], res["best"][0][names[0]], marker="*", ms=16,
                color="gold", mec="k")
    ax.set(xlabel=names[1], ylabel=names[0],
           title=f"{res['dynamics']['name']} on {res['options']['game']}: {q} (star: best)")
    fig.colorbar(im, ax=ax, label=f"{q} (grey: not finite)")
    fig.tight_layout()
    _io.write_png(path, fig)
    plt.close(fig)


def report(res: dict, out, *, plots: bool = True, echo=print) -> list[str]:
    echo(format_table(res))
    _io.write_json(out / "results.json", {k: v for k, v in res.items() if k != "arrays"})
    _io.write_npz(out / "sweep.npz", **res["arrays"])
    written = ["results.json", "sweep.npz"]
    two_d = sum(res["arrays"][f"axis/{n}"].size > 1 for n in res["options"]["grid"]) == 2
    if plots and two_d and np.ndim(np.squeeze(res["arrays"][res["quantity"]])) == 2:
        try:
            with np.errstate(all="ignore"):
                _plot(res, out / "sweep.png")
            written.append("sweep.png")
        except (OverflowError, ValueError) as err:  # e.g. axes near the float maximum
            echo(f"(no heatmap: matplotlib could not draw these axes: {err})")
    return written


HELP = "sweep any dynamics over a grid of hyperparameters (sharded over devices and hosts)"
DESCRIPTION = __doc__.split("\n\n")[1]


def add_arguments(p):
    d = DEFAULTS
    p.add_argument("--game", default=d["game"], metavar="NAME",
                   help=f"one of {', '.join(GAMES)} (default {d['game']})")
    p.add_argument("--dynamics", default=d["dynamics"], metavar="NAME",
                   help=f"one of {', '.join(DYNAMICS)} (default {d['dynamics']}); the grid "
                   "names are its hyperparameters: " + "; ".join(
                       f"{k}: {v[1]}" for k, v in DYNAMICS.items()))
    p.add_argument("--grid", default=d["grid"],
                   help=f"comma-separated name=low:high:count or name=value (default "
                   f"{d['grid']})")
    p.add_argument("--measure", default=d["measure"], choices=MEASURES,
                   help="; ".join(f"{k}: {v}" for k, v in MEASURES.items())
                   + f" (default {d['measure']})")
    p.add_argument("--steps", type=int_in(1, 10**6), default=d["steps"],
                   help=f"simulated steps for steps/final (default {d['steps']})")
    p.add_argument("--tol", type=float_in(0, 1, low_open=True, high_open=True),
                   default=d["tol"], help="steps: target distance relative to the start's "
                   f"(default {d['tol']:g})")
    p.add_argument("--radius", type=float_in(0, 1e3, low_open=True), default=d["radius"],
                   help=f"distance of the start from the equilibrium (default {d['radius']})")
    p.add_argument("--seed", type=int_in(0, SEED_MAX), default=d["seed"],
                   help="PRNG seed of the start's direction")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG")
    p.add_argument("--out", default=d["out"], help=f"output folder (default {d['out']})")
    distributed = p.add_argument_group(
        "several processes (hosts)", "Run the same command in every process; the grid is "
        "sharded over all their devices and process 0 writes --out.")
    distributed.add_argument("--distributed", action="store_true",
                             help="call jax.distributed.initialize() first (settings "
                             "auto-detected on SLURM, Open MPI and TPU pods)")
    distributed.add_argument("--coordinator", metavar="HOST:PORT",
                             help="the coordinator's address (process 0's host)")
    distributed.add_argument("--num-processes", type=int_in(1, 1 << 16))
    distributed.add_argument("--process-id", type=int_in(0, 1 << 16))
    distributed.add_argument("--timeout", type=int_in(1, 3600), default=60,
                             help="seconds to wait for every process to join (default 60)")
    p.epilog = describe_choices("games", GAMES)


def main(args) -> int:
    resolve("game", [args.game], GAMES)             # bad input exits 2 before any work
    resolve("dynamics", [args.dynamics], DYNAMICS)
    grid = parse_grid(args.grid)
    if args.distributed:
        _initialize(args)
    elif args.coordinator or args.num_processes or args.process_id is not None:
        raise UsageError("--coordinator, --num-processes and --process-id need --distributed.")
    points = math.prod(v.size for v in grid.values())
    if jax.process_index() != 0:            # only process 0 writes outputs
        compute(args.game, args.dynamics, grid=grid, measure=args.measure,
                steps=args.steps, tol=args.tol, radius=args.radius, seed=args.seed)
        return 0
    with output_folder(args.out) as tmp:
        with progress_bar(points, "sweep", unit="point") as bar:
            res = compute(args.game, args.dynamics, grid=grid, measure=args.measure,
                          steps=args.steps, tol=args.tol, radius=args.radius,
                          seed=args.seed, progress=lambda done, total: bar.to(done))
        written = report(res, tmp, plots=not args.no_plots)
    print(f"wrote {', '.join(written)} under {args.out}/")
    return 0


def _initialize(args):
    """jax.distributed.initialize with CPU collectives (gloo), so CPU-only processes
    can gather results too.  A coordinator that cannot be reached is a clear error
    after ``--timeout`` seconds, not a hang (JAX itself would abort the process)."""
    if args.coordinator and args.process_id != 0:
        _wait_for(args.coordinator, args.timeout)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    kwargs = {k: v for k, v in (("coordinator_address", args.coordinator),
                                ("num_processes", args.num_processes),
                                ("process_id", args.process_id)) if v is not None}
    try:
        jax.distributed.initialize(initialization_timeout=args.timeout, **kwargs)
    except Exception as err:      # noqa: BLE001 - JAX raises several types here
        raise UsageError(
            f"--distributed: could not join the processes ({type(err).__name__}: "
            f"{str(err).strip().splitlines()[0][:300]}). Pass --coordinator HOST:PORT, "
            f"--num-processes and --process-id where they cannot be auto-detected "
            f"(SLURM, Open MPI, TPU pods).") from None


def _wait_for(address: str, timeout: float) -> None:
    import socket
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--coordinator must be HOST:PORT; got {address!r}.")
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=1).close()
            return
        except OSError as err:
            if time.monotonic() >= deadline:
                raise UsageError(
                    f"--distributed: no coordinator answered at {address} within "
                    f"--timeout {timeout} s ({err.strerror or err}). Start process 0 (it "
                    f"hosts the coordinator) with the same --coordinator, and check that "
                    f"this host can reach it.") from None
            time.sleep(0.2)
