"""Momentum-sweep benchmark: gamedyn (jit + vmap of ``simulate``) against NumPy.

A grid of heavy-ball momentum settings (step size lr x coefficient beta, beta
partly negative) runs for ``--steps`` steps on ``games.adversarial(0.5)`` (7 + 7
parameters) from one fixed start.

* gamedyn: ``jax.jit(jax.vmap(one))`` with ``one(lr, beta) =
  dynamics.simulate(game, dynamics.momentum(lr, beta), start, steps,
  every=steps, metrics=())``: one compiled call for the whole grid, timed after a
  warm-up call with ``block_until_ready``.
* NumPy reference: the same update (mu <- beta mu - xi; omega <- omega + lr mu,
  with the adversarial game's simultaneous gradient written out) vectorised over
  the settings, a Python loop over the steps, in-place operations.  It is timed
  in two array layouts, settings-first ``(S, 7)`` (the layout ``vmap`` returns)
  and settings-last ``(7, S)`` (long contiguous inner loops; faster NumPy).

All timings are interleaved round-robin (the machine may be shared and noisy)
and reported as medians.  The final state (parameters and momentum) must agree
with the reference to ``--tol`` (absolute, relative above magnitude 1) where
finite, and ``Trajectory.diverged_at`` must flag exactly the settings whose NumPy
state overflowed; the default grid stays finite.

    python benchmarks/sweep.py                      # 4096 settings x 1000 steps, float64
    python benchmarks/sweep.py --compare-unroll 1,2,4,8
    python benchmarks/sweep.py --handwritten        # + a hand-written (7,S) JAX loop, the ceiling
    python benchmarks/sweep.py --settings 1048576 --numpy-steps 20   # large, e.g. on a GPU
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import platform
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--settings", type=int, default=4096,
                   help="number of (lr, beta) settings, a near-square grid (default 4096 = 64x64)")
    p.add_argument("--steps", type=int, default=1000, help="steps per trajectory (default 1000)")
    p.add_argument("--repeats", type=int, default=7,
                   help="timed runs of each contender, interleaved; medians reported (default 7)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    p.add_argument("--unroll", type=int, default=None,
                   help="simulate(..., unroll=) (default: simulate's own default)")
    p.add_argument("--compare-unroll", default="",
                   help="comma-separated unroll values to time side by side, e.g. 1,2,4,8")
    p.add_argument("--handwritten", action="store_true",
                   help="also time a hand-written settings-last (7,S) JAX loop of the same "
                        "update (with and without per-step divergence tracking): the ceiling "
                        "for a sweep through the library")
    p.add_argument("--numpy", choices=("both", "first", "last", "none"), default="both",
                   help="NumPy reference layouts to time: settings-first (S,7), settings-last "
                        "(7,S), both (default) or none")
    p.add_argument("--numpy-steps", type=int, default=None,
                   help="steps for the NumPy reference (default --steps); fewer steps for "
                        "large sweeps: speed is then compared as trajectory-steps per second "
                        "and correctness on a gamedyn run of the same length")
    p.add_argument("--numpy-repeats", type=int, default=None,
                   help="timed NumPy runs (default --repeats)")
    p.add_argument("--lr-range", default="0.01,0.1",
                   help="lr grid bounds (default 0.01,0.1: every setting converges)")
    p.add_argument("--beta-range", default="-0.5,0.5", help="beta grid bounds (default -0.5,0.5)")
    p.add_argument("--tol", type=float, default=None,
                   help="agreement tolerance (default 1e-6 for float64, 1e-5 for float32)")
    args = p.parse_args(argv)
    if args.settings < 1 or args.steps < 1 or args.repeats < 1:
        p.error("--settings, --steps and --repeats must be positive")
    if args.numpy_steps is None:
        args.numpy_steps = args.steps
    if args.numpy_repeats is None:
        args.numpy_repeats = args.repeats
    if args.tol is None:
        args.tol = 1e-6 if args.dtype == "float64" else 1e-5
    args.compare_unroll = [int(u) for u in args.compare_unroll.split(",") if u.strip()]
    args.lr_range = tuple(float(v) for v in args.lr_range.split(","))
    args.beta_range = tuple(float(v) for v in args.beta_range.split(","))
    return args


def grid(n, dtype, lr_range=(0.01, 0.1), beta_range=(-0.5, 0.5)):
    """n (lr, beta) settings on a near-square grid.  With the default ranges every
    setting converges (the momentum iteration's spectral radius is below 1 on
    this game); larger lr makes some settings diverge (compared where finite)."""
    n_lr = max(1, math.isqrt(n))
    n_beta = -(-n // n_lr)
    lr, beta = np.meshgrid(np.linspace(*lr_range, n_lr), np.linspace(*beta_range, n_beta),
                           indexing="ij")
    return lr.ravel()[:n].astype(dtype), beta.ravel()[:n].astype(dtype)


# ----------------------------------------------------------------------------- NumPy

def numpy_sweep(lr, beta, x0, y0, c, d, steps, layout):
    """Momentum on the adversarial game for all settings at once.

    xi_x = c x - d y, xi_y = c y + d x with c = (1 - gamma) b, d = gamma a
    (gradients of L_1 in x and L_2 in y).  Returns the final state (x, y, mu_x,
    mu_y), each of shape (S, 7).
    """
    s, k = lr.shape[0], x0.shape[0]
    if layout == "first":                       # (S, 7): settings on the outer axis
        shape = (s, k)
        lr, beta = lr[:, None], beta[:, None]
    else:                                       # (7, S): settings on the inner axis
        shape = (k, s)
        x0, y0, c, d = x0[:, None], y0[:, None], c[:, None], d[:, None]
    x = np.broadcast_to(x0, shape).copy()
    y = np.broadcast_to(y0, shape).copy()
    mx, my = np.zeros(shape, x.dtype), np.zeros(shape, x.dtype)
    t1, t2 = np.empty(shape, x.dtype), np.empty(shape, x.dtype)
    with np.errstate(all="ignore"):
        for _ in range(steps):
            np.multiply(c, x, out=t1)
            np.multiply(d, y, out=t2)
            t1 -= t2                            # xi_x
            np.multiply(c, y, out=t2)
            mx *= beta
            mx -= t1                            # mu_x <- beta mu_x - xi_x
            np.multiply(d, x, out=t1)
            t2 += t1                            # xi_y
            my *= beta
            my -= t2                            # mu_y <- beta mu_y - xi_y
            np.multiply(lr, mx, out=t1)
            x += t1                             # x <- x + lr mu_x
            np.multiply(lr, my, out=t1)
            y += t1
    if layout == "last":
        return x.T, y.T, mx.T, my.T
    return x, y, mx, my


# ----------------------------------------------------------------------------- gamedyn

def make_gamedyn_sweep(steps, unroll):
    import jax

    import dynamics

    def one(game, start, lr, beta):
        traj = dynamics.simulate(game, dynamics.momentum(lr, beta), start, steps,
                                 every=steps, metrics=(), unroll=unroll)
        return (*traj.final.params, *traj.final.mu), traj.diverged_at

    return jax.jit(jax.vmap(one, in_axes=(None, None, 0, 0)))


def make_handwritten_sweep(steps, unroll, track):
    """The same update written out by hand for this game, settings on the last axis
    ``(7, S)``, one ``lax.scan``; with ``track`` it records the first non-finite step
    per element as ``simulate`` does.  A reference for what the library could reach."""
    import jax
    import jax.numpy as jnp

    never = jnp.iinfo(jnp.int32).max

    @jax.jit
    def run(x0, y0, c, d, lr, beta):
        shape = x0.shape + lr.shape
        x, y = (jnp.broadcast_to(v[:, None], shape) for v in (x0, y0))
        c, d = c[:, None], d[:, None]

        def body(carry, _):
            (x, y, mx, my), first, t = carry
            mx = beta * mx - (c * x - d * y)
            my = beta * my - (c * y + d * x)
            state, t = (x + lr * mx, y + lr * my, mx, my), t + 1
            if track:
                finite = jnp.isfinite(state[0])
                for v in state[1:]:
                    finite = finite & jnp.isfinite(v)
                first = jnp.minimum(first, jnp.where(finite, never, t))
            return (state, first, t), None

        carry = ((x, y, jnp.zeros_like(x), jnp.zeros_like(y)),
                 jnp.full(shape, never, jnp.int32), jnp.int32(0))
        (state, first, _), _ = jax.lax.scan(body, carry, None, length=steps,
                                            unroll=unroll or 4)
        return state, first
    return run


def make_vmapped_loop(game, start, steps, unroll, closed_form):
    """A hand-written loop of the same update and divergence tracking, vmapped over
    settings like the library (settings-first), with the game's autodiff
    gradient (``games.simultaneous_gradient``) or the closed form ``(c x - d y,
    c y + d x)``: it separates the engine's overhead from the gradient's cost and
    from the batch layout."""
    import jax
    import jax.numpy as jnp

    import games

    never = jnp.iinfo(jnp.int32).max
    g, a, b = game.gammas, game.a, game.b

    def xi(x, y):
        if closed_form:
            c, d = (1 - g) * b, g * a
            return c * x - d * y, c * y + d * x
        return games.simultaneous_gradient(game, (x, y))

    def one(lr, beta):
        x, y = start

        def body(carry, _):
            (x, y, mx, my), first, t = carry
            gx, gy = xi(x, y)
            mx, my = beta * mx - gx, beta * my - gy
            state, t = (x + lr * mx, y + lr * my, mx, my), t + 1
            finite = functools.reduce(jnp.logical_and, [jnp.isfinite(v) for v in state])
            return (state, jnp.minimum(first, jnp.where(finite, never, t)), t), None

        carry = ((x, y, jnp.zeros_like(x), jnp.zeros_like(y)),
                 jnp.full(x.shape, never, jnp.int32), jnp.int32(0))
        (state, first, _), _ = jax.lax.scan(body, carry, None, length=steps,
                                            unroll=unroll or 4)
        return state, jnp.where(first.min() == never, -1, first.min())
    return jax.jit(jax.vmap(one))


def max_abs_finite(state):
    """Per setting, the largest finite magnitude in a state given as (S, k) arrays."""
    return np.max([np.abs(np.where(np.isfinite(v), v, 0)).max(axis=1) for v in state], axis=0)


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def fmt_ms(seconds):
    return f"{1e3 * seconds:9.1f} ms"


def main(argv=None):
    args = parse_args(argv)
    import jax
    if args.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    import games

    dtype = np.dtype(args.dtype)
    S, T, Tn = args.settings, args.steps, args.numpy_steps
    game = games.adversarial(0.5)
    start = game.init(jax.random.PRNGKey(0))
    assert all(p.dtype == dtype for p in start), (start[0].dtype, dtype)
    lr, beta = grid(S, dtype, args.lr_range, args.beta_range)
    jlr, jbeta = jnp.asarray(lr), jnp.asarray(beta)
    g, a, b = (np.asarray(v, dtype) for v in (game.gammas, game.a, game.b))
    c, d = (1 - g) * b, g * a
    x0, y0 = (np.asarray(p) for p in start)

    print(f"gamedyn momentum sweep: {S} settings (lr in {list(args.lr_range)} x beta in "
          f"{list(args.beta_range)}) "
          f"x {T} steps on games.adversarial(0.5), {args.dtype}")
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, devices {jax.devices()}; "
          f"numpy {np.__version__}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs")

    # ---- compile (warm-up) every gamedyn variant
    unrolls = [args.unroll] + [u for u in args.compare_unroll if u != args.unroll]
    runs = {}
    for u in unrolls:
        fn = make_gamedyn_sweep(T, u)
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn(game, start, jlr, jbeta))
        label = f"gamedyn unroll={'default' if u is None else u}"
        print(f"  {label}: first call (trace + compile + run) {time.perf_counter() - t0:.2f} s")
        runs[label] = (fn, out)

    contenders = {label: (lambda fn=fn: jax.block_until_ready(fn(game, start, jlr, jbeta)))
                  for label, (fn, _) in runs.items()}
    # the generic dynamics.sweep over the same settings (zipped), results on the host
    import dynamics

    phases = []                 # dynamics.sweep's own split of each timed call

    def generic():
        res = dynamics.sweep(game, dynamics.momentum, {"lr": lr, "beta": beta},
                             product=False, measure="final", params=start, steps=T)
        phases.append(res.seconds)
        return res
    t0 = time.perf_counter()
    res = generic()
    state = [np.asarray(v) for v in runs[next(iter(runs))][1][0]]
    want = np.sqrt((state[0] ** 2).sum(axis=1) + (state[1] ** 2).sum(axis=1))
    diff = float(np.nanmax(np.abs(res.values["final_distance"] - want)))
    print(f"  dynamics.sweep: first call {time.perf_counter() - t0:.2f} s; final distance "
          f"max difference from the vmapped simulate {diff:.2e}")
    contenders["dynamics.sweep (to host)"] = generic
    if args.handwritten:
        hw_args = tuple(jnp.asarray(v) for v in (x0, y0, c, d, lr, beta))
        for track in (True, False):
            fn = make_handwritten_sweep(T, args.unroll, track)
            state = jax.block_until_ready(fn(*hw_args))[0]
            ref = runs[next(iter(runs))][1][0]
            diff = max(float(np.nanmax(np.abs(np.asarray(h).T - np.asarray(r))))
                       for h, r in zip(state, ref))
            label = f"hand-written JAX (7,S){'' if track else ' untracked'}"
            print(f"  {label}: max difference from gamedyn {diff:.2e}")
            contenders[label] = (lambda fn=fn: jax.block_until_ready(fn(*hw_args)))
        for closed in (False, True):
            fn = make_vmapped_loop(game, start, T, args.unroll, closed)
            state = jax.block_until_ready(fn(jlr, jbeta))[0]
            ref = runs[next(iter(runs))][1][0]
            diff = max(float(np.nanmax(np.abs(np.asarray(h) - np.asarray(r))))
                       for h, r in zip(state, ref))
            label = f"hand-written vmap, {'closed-form' if closed else 'autodiff'} gradient"
            print(f"  {label}: max difference from gamedyn {diff:.2e}")
            contenders[label] = (lambda fn=fn: jax.block_until_ready(fn(jlr, jbeta)))
    layouts = {"both": ("first", "last"), "first": ("first",), "last": ("last",),
               "none": ()}[args.numpy]
    np_labels = {"first": "numpy settings-first (S,7)", "last": "numpy settings-last (7,S)"}
    np_out = {}
    for lay in layouts:
        np_out[lay] = numpy_sweep(lr, beta, x0, y0, c, d, Tn, lay)     # warm-up + result
        contenders[np_labels[lay]] = (lambda lay=lay: numpy_sweep(lr, beta, x0, y0, c, d, Tn, lay))

    # ---- correctness: final state against the NumPy reference
    main_label = next(iter(runs))
    huge = np.finfo(dtype).max / 1e8        # "about to overflow"
    if layouts:
        if Tn == T:
            got, div = runs[main_label][1]
        else:
            got, div = make_gamedyn_sweep(Tn, args.unroll)(game, start, jlr, jbeta)
        got, div = [np.asarray(v) for v in got], np.asarray(div)
        div_got = div >= 0
        for lay, ref in np_out.items():
            div_ref = ~np.all([np.isfinite(v).all(axis=1) for v in ref], axis=0)
            # Divergence must agree, except where the finite side is about to
            # overflow anyway (rounding decides the exact step there).
            finite_max = np.where(div_got, max_abs_finite(ref), max_abs_finite(got))
            edge = (div_got != div_ref) & (finite_max > huge)
            bad = (div_got != div_ref) & ~edge
            assert not bad.any(), (f"gamedyn and NumPy disagree on divergence for "
                                   f"{int(bad.sum())} settings, e.g. lr={lr[bad][0]}, "
                                   f"beta={beta[bad][0]}")
            both = ~div_got & ~div_ref
            worst = max_abs = 0.0
            for g_, r_ in zip(got, ref):
                diff = np.abs(g_[both] - r_[both])
                max_abs = max(max_abs, float(diff.max(initial=0.0)))
                scaled = diff / np.maximum(1.0, np.abs(r_[both]))
                worst = max(worst, float(scaled.max(initial=0.0)))
            print(f"  agreement with {np_labels[lay]} after {Tn} steps (params and momentum): "
                  f"max abs difference {max_abs:.2e}, scaled by max(1, |value|) {worst:.2e} "
                  f"(tol {args.tol:g}); diverged: gamedyn {int(div_got.sum())}, numpy "
                  f"{int(div_ref.sum())}" + (f" ({int(edge.sum())} at the overflow edge)"
                                             if edge.any() else ""))
            assert worst <= args.tol, f"max difference {worst:.3g} > tol {args.tol:g}"
    for label, (_, (state, div)) in runs.items():
        finite = np.all([np.isfinite(np.asarray(v)).all(axis=1) for v in state], axis=0)
        assert np.array_equal(~finite, np.asarray(div) >= 0), \
            "diverged_at disagrees with the final state"

    # ---- timing, interleaved
    times = {k: [] for k in contenders}
    for r in range(max(args.repeats, args.numpy_repeats)):
        for k, fn in contenders.items():
            if r < (args.numpy_repeats if k.startswith("numpy") else args.repeats):
                times[k].append(timed(fn))
    med = {k: float(np.median(v)) for k, v in times.items()}
    rate = {k: S * (Tn if k.startswith("numpy") else T) / med[k] for k in med}
    runs_note = (f"{args.repeats} gamedyn / {args.numpy_repeats} numpy runs, interleaved"
                 if layouts else f"{args.repeats} runs")
    print(f"timings (median of {runs_note}; trajectory-steps per second):")
    for k in contenders:
        steps_note = f"  [{Tn} steps]" if k.startswith("numpy") and Tn != T else ""
        print(f"  {k:40s} median {fmt_ms(med[k])}  min {fmt_ms(min(times[k]))}  "
              f"{rate[k]:10.3e} steps/s{steps_note}")
    phases = phases[1:]         # the first call (compiles; checked above) is not timed
    split = {k: float(np.median([p[k] for p in phases])) for k in phases[0]}
    print(f"  dynamics.sweep by phase (median of its timed runs): device "
          f"{fmt_ms(split['device']).strip()}, host {fmt_ms(split['host']).strip()} "
          f"(checking and placing inputs, gathering results to NumPy), compile "
          f"{fmt_ms(split['compile']).strip()} (reused)")
    main_time = med[main_label]
    for k in contenders:
        if k.startswith(("hand-written", "dynamics.sweep")):
            print(f"  ratio {main_label} / {k} (time): {main_time / med[k]:.2f}x")
    if layouts:
        best_np = max((np_labels[lay] for lay in layouts), key=lambda k: rate[k])
        for lay in layouts:
            k = np_labels[lay]
            print(f"  ratio gamedyn / {k}: {rate[main_label] / rate[k]:.1f}x")
        for k in (k for k in contenders if k.startswith("hand-written")):
            for lay in layouts:
                print(f"  ratio {k} / {np_labels[lay]}: {rate[k] / rate[np_labels[lay]]:.1f}x")
        print(f"RATIO (gamedyn vs the faster NumPy, {best_np}): "
              f"{rate[main_label] / rate[best_np]:.1f}x")
    else:
        print(f"THROUGHPUT {rate[main_label]:.3e} trajectory-steps/s")


if __name__ == "__main__":
    main()
