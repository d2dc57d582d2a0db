"""Lyapunov-exponent benchmark: accuracy against cost, and branches under vmap.

Part 1 (accuracy against steps).  Matching pennies lifted to ``--dim``
parameters per player by ``games.random_subspace`` (2 x 50 = 100 by default)
and simultaneous GD (lr 1) started at the lifted equilibrium, the origin: a
fixed point in floating point too (the gradient there is exactly 0), where the
top exponent is known in closed form: J has eigenvalues +-i/4, so the step map
is a rotation scaled by |1 - i lr/4| and the top exponent is
1/2 log(1 + lr^2/16) (the lifted directions have multiplier 1, exponent 0).  (An
unstable saddle, e.g. the small IPD's, cannot be held: rounding of order 1e-15
grows like e^(lambda k) and the trajectory leaves it within about 100 steps.)  For
each horizon k in ``--horizons`` it times ``dynamics.lyapunov_exponents(..., k,
num=1)`` (one compiled program per k, timed after a warm-up call; medians of
``--repeats`` interleaved rounds) and reports the JVPs spent (k), the error to
the closed form and the first k whose error is at most 1e-3.  The error of a
finite-time exponent falls like 1/k (the initial frame's component along the
top direction), so the last column checks k * error for a constant.

Part 2 (branches together).  ``--branches`` starts (what
``search.grr`` evaluates at one level) each get their top exponent over
``--branch-steps`` steps: once with ``jax.vmap`` over the starts (around the
equilibrium) (one compiled
call) and once as a Python loop of single-start calls of the same compiled
function; medians of interleaved rounds, results checked to agree.  Target:
vmap at least 5x faster than the loop.

    python benchmarks/lyapunov.py
    python benchmarks/lyapunov.py --dim 500 --branches 64
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def _median_times(fns: dict, repeats: int) -> dict:
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    return {k: float(np.median(v)) for k, v in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dim", type=int, default=50, help="parameters per player (50)")
    parser.add_argument("--horizons", default="10,100,1000,3000,10000,30000",
                        help="step counts k (comma-separated)")
    parser.add_argument("--branches", type=int, default=16, help="starts in part 2 (16)")
    parser.add_argument("--branch-steps", type=int, default=200,
                        help="exponent horizon in part 2 (200)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (5)")
    args = parser.parse_args(argv)

    import jax
    jax.config.update("jax_enable_x64", True)

    import dynamics
    import games

    small, lr = games.matching_pennies(), 1.0
    exact = 0.5 * float(np.log1p(lr ** 2 / 16))
    big = games.random_subspace(small, args.dim, key=jax.random.key(0))
    saddle = big.equilibrium()
    dyn = dynamics.simgd(lr)
    key = jax.random.key(1)
    jac = np.linalg.eigvals(np.asarray(games.jacobian(small, small.equilibrium())))
    print(f"# jax {jax.__version__}, {jax.default_backend()}, {platform.processor() or '?'}, "
          f"float64; matching pennies lifted to 2 x {args.dim} parameters, simGD lr {lr:g} at "
          f"the equilibrium (eig J = {', '.join(f'{e:.3f}' for e in jac)}); closed-form top "
          f"exponent 1/2 log(1 + lr^2/16) = {exact:.6f}")

    horizons = [int(k) for k in args.horizons.split(",")]
    programs = {k: jax.jit(lambda p, k=k: dynamics.lyapunov_exponents(
        big, dyn, p, k, key=key).exponents[0]) for k in horizons}
    values = {k: float(programs[k](saddle)) for k in horizons}        # warm-up + value
    times = _median_times({k: (lambda k=k: jax.block_until_ready(programs[k](saddle)))
                           for k in horizons}, args.repeats)
    print(f"\n{'steps k':>8} {'JVPs':>7} {'median ms':>10} {'exponent':>11} {'error':>10} "
          f"{'k x error':>10}")
    first = None
    for k in horizons:
        err = abs(values[k] - exact)
        if first is None and err <= 1e-3:
            first = k
        print(f"{k:>8} {k:>7} {1e3 * times[k]:>10.2f} {values[k]:>11.6f} {err:>10.2e} "
              f"{k * err:>10.3f}")
    print("first horizon with error <= 1e-3: "
          + (f"k = {first} ({first} JVPs, {1e3 * times[first]:.1f} ms)" if first else
             "none of those run; pass longer --horizons"))

    # Part 2: branches evaluated together against a loop.
    b, steps = args.branches, args.branch_steps
    offsets = 0.5 * jax.random.normal(jax.random.key(2), (b, 2 * args.dim))
    starts = (saddle[0] + offsets[:, :args.dim], saddle[1] + offsets[:, args.dim:])

    def one(p0, p1):
        return dynamics.lyapunov_exponents(big, dyn, (p0, p1), steps, key=key).exponents[0]
    single, batched = jax.jit(one), jax.jit(jax.vmap(one))
    together = np.asarray(batched(*starts))
    looped = np.asarray([single(starts[0][i], starts[1][i]) for i in range(b)])
    agree = float(np.max(np.abs(together - looped)))
    t = _median_times({
        "vmap": lambda: jax.block_until_ready(batched(*starts)),
        "loop": lambda: [jax.block_until_ready(single(starts[0][i], starts[1][i]))
                         for i in range(b)]}, args.repeats)
    ratio = t["loop"] / t["vmap"]
    print(f"\n{b} branches x {steps} steps: vmap {1e3 * t['vmap']:.1f} ms, Python loop "
          f"{1e3 * t['loop']:.1f} ms: {ratio:.1f}x (max difference {agree:.1e})")
    print("\nTARGETS")
    print(f"  [{'held' if ratio >= 5 else 'missed'}] branches under vmap at least 5x a "
          f"Python loop: {ratio:.1f}x")
    print(f"  [{'held' if first else 'missed'}] top exponent of the 100-dimensional game to "
          f"1e-3: " + (f"k = {first} steps, {first} JVPs, {1e3 * times[first]:.1f} ms"
                       if first else "not within the horizons run"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
