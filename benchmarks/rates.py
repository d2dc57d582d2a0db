"""Rate-heatmap benchmark: complex momentum over arg(beta) x |beta|, gamedyn vs NumPy.

A ``--grid`` x ``--grid`` grid of complex momentum coefficients (arg beta in
[0, pi] x |beta| in [0, 0.99]) at one step size per game runs simultaneous
complex momentum (mu <- beta mu - xi; omega <- omega + lr Re mu) for ``--steps``
steps on ``games.dirac_gan()`` (lr 0.5) and ``games.adversarial(0.5)`` (7 + 7
parameters, lr 0.2), from one fixed start at distance ``--radius`` from the
equilibrium (the equilibrium plus a random direction, as ``gamedyn rates``).

Simulated route (steps until the distance to the equilibrium is <= ``--tol``):

* gamedyn: ``dynamics.steps_to_tolerance_grid`` (the public API, one compiled,
  vmapped call per grid; timed after a warm-up call).
* gamedyn simulate: ``jax.jit(jax.vmap(one))`` with ``one(lr, beta) =
  dynamics.simulate(game, dynamics.complex_momentum(lr, beta), start, steps,
  every=steps, metrics=('distance',))``: the final distance only (no per-step
  check), for comparison with the plain ``simulate`` loop.
* sketch (not library API, ``--no-sketch`` to skip): the library's
  ``complex_momentum(lr, beta).step`` vmapped over the *last* axis of a carried
  batch-last state, inside a ``lax.scan`` that checks the tolerance each step: what
  a batch-last layout in the library would give on this workload.
* NumPy reference: the same update with the games' simultaneous gradients
  written out (Dirac GAN xi = (f'(psi theta) psi, -f'(psi theta) theta + gamma psi),
  f'(t) = sigmoid(-t); adversarial xi = (c x - d y, c y + d x) with
  c = (1 - gamma) b, d = gamma a), the complex buffer as two real arrays,
  vectorised over the settings in the settings-last layout (n, S) (the faster
  NumPy layout), a Python loop over the steps, in-place operations; it records
  the first step whose distance sqrt(sum omega^2) is <= tol.

Step counts must agree exactly, except where the distance sits within rounding
of the tolerance: every mismatch is re-simulated in NumPy and the distance at the
earlier of the two step counts must lie within ``--edge-rtol`` of ``tol``
(mismatches are reported). The final distances of the ``simulate`` contender
must agree with the NumPy ones where the run converged.

Eigenvalue route: ``dynamics.spectral_radius_grid`` (autodiff linearisation of
the step, XLA eigenvalues) against NumPy building the augmented matrix of
Lorraine et al. (2022) per setting from the Jacobian at the equilibrium (written
out; checked against ``games.jacobian``) and calling ``np.linalg.eigvals`` on the
stacked (S, 3d, 3d) batch; spectral radii must agree to ``--eig-tol``.

All timings are interleaved round-robin (the machine may be shared and noisy)
and reported as medians with trajectory-steps (or settings) per second.

    python benchmarks/rates.py                           # 64 x 64 x 1000 steps, both games
    python benchmarks/rates.py --games dirac_gan --grid 1024 --eig off --numpy-subset 4096
                                                         # a 2^20-setting heatmap, e.g. on a GPU
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sweep import fmt_ms, timed  # noqa: E402  (shared timing helpers)

GAMES = ("dirac_gan", "adversarial")
ADVERSARIAL_GAMMA_MAX = 0.5
MAG_RANGE = (0.0, 0.99)
ARG_RANGE = (0.0, math.pi)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--grid", type=int, default=64,
                   help="points per axis: arg beta in [0, pi] x |beta| in [0, 0.99] "
                        "(default 64: 4096 settings)")
    p.add_argument("--steps", type=int, default=1000, help="simulated steps (default 1000)")
    p.add_argument("--repeats", type=int, default=7,
                   help="timed runs of each contender, interleaved; medians reported (default 7)")
    p.add_argument("--games", default=",".join(GAMES),
                   help=f"comma-separated, from {', '.join(GAMES)} (default both)")
    p.add_argument("--dirac-lr", type=float, default=0.5, help="Dirac GAN step size (default 0.5)")
    p.add_argument("--adversarial-lr", type=float, default=0.2,
                   help="adversarial(0.5) step size (default 0.2: about 70%% of the grid "
                        "converges, the fastest in about 150 steps)")
    p.add_argument("--tol", type=float, default=1e-6,
                   help="distance to the equilibrium that counts as converged (default 1e-6)")
    p.add_argument("--radius", type=float, default=0.1,
                   help="distance of the start from the equilibrium (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed of the start's direction")
    p.add_argument("--eig", choices=("auto", "device", "cpu", "off"), default="auto",
                   help="eigenvalue route: on the default device, on the host CPU, off, or auto "
                        "(default: the default device on a CPU backend, the host CPU beside an "
                        "accelerator, where XLA's non-symmetric eigenvalues are missing or slow; "
                        "skipped with a note if it fails)")
    p.add_argument("--simulate", action=argparse.BooleanOptionalAction, default=True,
                   help="time the plain jit(vmap(simulate)) final-distance contender (default on)")
    p.add_argument("--sketch", action=argparse.BooleanOptionalAction, default=True,
                   help="time the batch-last sketch (library step, batch-last carry; default on)")
    p.add_argument("--numpy-subset", type=int, default=None,
                   help="run the NumPy references on this many settings spread evenly over "
                        "the grid (default: all); rates are then compared per trajectory-step "
                        "(or per setting) and agreement is checked on those settings")
    p.add_argument("--edge-rtol", type=float, default=1e-8,
                   help="a step-count mismatch is accepted only if the NumPy distance at the "
                        "earlier step is within this relative distance of --tol (default 1e-8)")
    p.add_argument("--eig-tol", type=float, default=1e-10,
                   help="spectral-radius agreement, absolute (default 1e-10)")
    args = p.parse_args(argv)
    if args.grid < 2 or args.steps < 1 or args.repeats < 1:
        p.error("--grid must be >= 2, --steps and --repeats positive")
    args.games = [g.strip() for g in args.games.split(",") if g.strip()]
    bad = [g for g in args.games if g not in GAMES]
    if bad or not args.games:
        p.error(f"--games: unknown {bad}; choose from {', '.join(GAMES)}")
    if not (0 < args.tol < args.radius):
        p.error(f"--tol must lie in (0, --radius); got {args.tol}")
    if args.numpy_subset is not None and args.numpy_subset < 1:
        p.error("--numpy-subset must be positive")
    return args


def grid_axes(n):
    """|beta| and arg(beta) axes; settings are flattened |beta|-major, as in
    ``dynamics.steps_to_tolerance_grid`` with a single lr."""
    return np.linspace(*MAG_RANGE, n), np.linspace(*ARG_RANGE, n)


# ----------------------------------------------------------------------------- NumPy

def dirac_xi(gradient_penalty):
    """Dirac GAN: xi = (f'(psi theta) psi, -f'(psi theta) theta + gamma psi),
    f'(t) = sigmoid(-t) = 1 / (1 + e^t); w = [theta; psi] of shape (2, S)."""
    def xi(w, g):
        th, ps = w
        s = g[0]
        np.multiply(ps, th, out=s)
        np.exp(s, out=s)
        s += 1.0
        np.reciprocal(s, out=s)                 # f'(psi theta)
        np.multiply(s, th, out=g[1])
        np.negative(g[1], out=g[1])             # -f' theta
        if gradient_penalty:
            g[1] += gradient_penalty * ps
        s *= ps                                 # f' psi
    return xi


def adversarial_xi(c, d):
    """Adversarial game: xi = (c x - d y, c y + d x); w = [x; y] of shape (2k, S)."""
    k = c.shape[0]
    c, d = c[:, None], d[:, None]

    def xi(w, g):
        x, y, gx, gy = w[:k], w[k:], g[:k], g[k:]
        np.multiply(c, x, out=gx)
        np.multiply(c, y, out=gy)
        tmp = d * y
        gx -= tmp
        np.multiply(d, x, out=tmp)
        gy += tmp
    return xi


def numpy_steps(xi, w0, lr, beta, steps, tol, record=False):
    """Complex momentum for all settings at once, settings-last (n, S).

    mu <- beta mu - xi(omega) with mu = mr + i mi as two real arrays, then
    omega <- omega + lr mr (real lr).  Returns (hit, final distance), hit = the
    first step whose distance is <= tol (-1 if none); with ``record`` also the
    distances after every step, shape (steps + 1, S).
    """
    n, s = w0.shape[0], lr.shape[0]
    br, bi = np.ascontiguousarray(beta.real), np.ascontiguousarray(beta.imag)
    w = np.repeat(w0[:, None], s, axis=1)
    mr, mi = np.zeros((n, s)), np.zeros((n, s))
    g, t1, t2 = np.empty((n, s)), np.empty((n, s)), np.empty((n, s))
    dist, m = np.empty(s), np.empty(s, bool)
    pending = np.ones(s, bool)
    hit = np.full(s, -1, np.int64)
    rec = np.empty((steps + 1, s)) if record else None
    if record:
        rec[0] = np.sqrt(np.sum(w * w, axis=0))
    with np.errstate(all="ignore"):
        for t in range(1, steps + 1):
            xi(w, g)
            np.multiply(bi, mr, out=t2)             # Im(beta) Re(mu), old mu
            mr *= br
            np.multiply(bi, mi, out=t1)
            mr -= t1
            mr -= g                                 # Re mu' = Re b Re mu - Im b Im mu - xi
            mi *= br
            mi += t2                                # Im mu' = Im b Re mu + Re b Im mu
            np.multiply(lr, mr, out=t1)
            w += t1                                 # omega += lr Re mu'
            np.multiply(w, w, out=t1)
            np.sum(t1, axis=0, out=dist)
            np.sqrt(dist, out=dist)
            if record:
                rec[t] = dist
            np.less_equal(dist, tol, out=m)
            m &= pending
            np.copyto(hit, t, where=m)
            pending ^= m
    return (hit, dist.copy(), rec) if record else (hit, dist.copy())


def numpy_jacobian(name, game):
    """The game Jacobian at the equilibrium (0), written out."""
    if name == "dirac_gan":
        # d/d(theta, psi) of (f'(psi theta) psi, -f'(psi theta) theta + gamma psi) at 0,
        # f'(0) = 1/2 (the f'' terms carry a factor theta or psi).
        return np.array([[0.0, 0.5], [-0.5, float(game.gradient_penalty)]])
    g, a, b = (np.asarray(v, float) for v in (game.gammas, game.a, game.b))
    c, d = np.diag((1 - g) * b), np.diag(g * a)
    return np.block([[c, -d], [d, c]])


def numpy_augmented(J, lr, beta):
    """Stacked augmented matrices R (S, 3d, 3d), Lorraine et al. (2022) (real lr):
    R = [[Re b I, -Im b I, -J], [Im b I, Re b I, 0], [Re(ab) I, -Im(ab) I, I - a J]]."""
    d, s = J.shape[0], lr.shape[0]
    eye = np.eye(d)
    ab = lr * beta
    col = lambda v: v[:, None, None]
    R = np.zeros((s, 3 * d, 3 * d))
    R[:, :d, :d] = col(beta.real) * eye
    R[:, :d, d:2 * d] = -col(beta.imag) * eye
    R[:, :d, 2 * d:] = -J
    R[:, d:2 * d, :d] = col(beta.imag) * eye
    R[:, d:2 * d, d:2 * d] = col(beta.real) * eye
    R[:, 2 * d:, :d] = col(ab.real) * eye
    R[:, 2 * d:, d:2 * d] = -col(ab.imag) * eye
    R[:, 2 * d:, 2 * d:] = eye - col(lr) * J
    return R


def numpy_radius(J, lr, beta):
    return np.abs(np.linalg.eigvals(numpy_augmented(J, lr, beta))).max(axis=-1)


# ----------------------------------------------------------------------------- gamedyn

def make_simulate_final(steps):
    import jax

    import dynamics

    def one(game, start, lr, beta):
        traj = dynamics.simulate(game, dynamics.complex_momentum(lr, beta), start, steps,
                                 every=steps, metrics=("distance",))
        return traj.metrics["distance"][-1]

    return jax.jit(jax.vmap(one, in_axes=(None, None, 0, 0)))


def make_batch_last_sketch(steps, tol):
    """Steps to tolerance with the library's step vmapped over the last axis of a
    batch-last carry (every state leaf has shape leaf.shape + (S,)).  Not library
    API: a measurement of what batch-last layouts give on this workload."""
    import jax
    import jax.numpy as jnp

    import dynamics

    def run(game, start, lr, beta):
        s = lr.shape[0]

        def one_step(lr, beta, state):
            return dynamics.complex_momentum(lr, beta).step(game, state)

        step = jax.vmap(one_step, in_axes=(0, 0, -1), out_axes=-1)
        eq = jax.tree_util.tree_leaves(game.equilibrium())
        state0 = dynamics.complex_momentum(lr[0], beta[0]).init(start)
        state0 = jax.tree_util.tree_map(
            lambda x: jnp.broadcast_to(x[..., None], x.shape + (s,)), state0)

        def body(carry, _):
            state, hit, t = carry
            state = step(lr, beta, state)
            t = t + 1
            sq = [jnp.sum((p - e[..., None]) ** 2, axis=tuple(range(p.ndim - 1)))
                  for p, e in zip(jax.tree_util.tree_leaves(state.params), eq)]
            dist = jnp.sqrt(sum(sq))
            hit = jnp.where((hit < 0) & (dist <= tol), t, hit)
            return (state, hit, t), None

        carry = (state0, jnp.full((s,), -1, jnp.int32), jnp.int32(0))
        (_, hit, _), _ = jax.lax.scan(body, carry, None, length=steps)
        return hit

    return jax.jit(run)


# ----------------------------------------------------------------------------- checks

def check_steps(label, got, ref_hit, rerun, steps, tol, edge_rtol):
    """Exact agreement of steps to tolerance, except at the tolerance edge.

    got: float steps (inf = never); ref_hit: int steps (-1 = never);
    rerun(idx) -> NumPy distances (steps + 1, len(idx)) of those settings.
    """
    ref = np.where(ref_hit < 0, np.inf, ref_hit).astype(float)
    bad = np.flatnonzero(got != ref)
    worst = 0.0
    if bad.size:
        dists = rerun(bad)
        first = np.minimum(got[bad], ref[bad]).astype(int)
        gap = np.abs(dists[first, np.arange(bad.size)] / tol - 1.0)
        worst = float(gap.max())
        off = gap > edge_rtol
        assert not off.any(), (
            f"{label}: {int(off.sum())} of {got.size} settings disagree with NumPy away from "
            f"the tolerance edge, e.g. setting {bad[off][0]}: gamedyn {got[bad][off][0]}, "
            f"numpy {ref[bad][off][0]} (relative gap {gap[off][0]:.2e} > {edge_rtol:g})")
    print(f"  agreement, {label} vs NumPy steps to tolerance: {got.size} settings, "
          f"{bad.size} mismatch{'' if bad.size == 1 else 'es'}"
          + (f", all at the tolerance edge (NumPy distance within {worst:.1e} of tol, "
             f"relative)" if bad.size else ""))
    return bad.size


# ----------------------------------------------------------------------------- timing

def first_call(label, fn):
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    return out, f"{label} {dt:.2f} s"


def bench_game(name, args, jax, jnp, games, dynamics):
    from jax.flatten_util import ravel_pytree

    if name == "dirac_gan":
        game, lr, desc = games.dirac_gan(), args.dirac_lr, "games.dirac_gan() (1 + 1 parameters)"
    else:
        game, lr = games.adversarial(ADVERSARIAL_GAMMA_MAX), args.adversarial_lr
        desc = f"games.adversarial({ADVERSARIAL_GAMMA_MAX}) (7 + 7 parameters)"
    n, T, tol = args.grid, args.steps, args.tol
    S = n * n
    mags, angles = grid_axes(n)
    M, A = np.meshgrid(mags, angles, indexing="ij")
    beta = (M * np.exp(1j * A)).ravel()
    lrs = np.full(S, lr)
    jlr, jbeta = jnp.asarray(lrs), jnp.asarray(beta)

    eq, unravel = ravel_pytree(game.equilibrium())
    direction, _ = ravel_pytree(game.init(jax.random.key(args.seed)))
    w0 = eq + args.radius * direction / jnp.linalg.norm(direction)
    start = unravel(w0)
    w0 = np.asarray(w0, float)
    if name == "dirac_gan":
        xi = dirac_xi(float(game.gradient_penalty))
    else:
        g, a, b = (np.asarray(v, float) for v in (game.gammas, game.a, game.b))
        xi = adversarial_xi((1 - g) * b, g * a)

    K = S if args.numpy_subset is None else min(args.numpy_subset, S)
    sub = np.unique(np.linspace(0, S - 1, K).round().astype(int))
    K = sub.size
    lr_sub, beta_sub = lrs[sub], beta[sub]
    print()
    print(f"== {name}: {desc}, lr {lr:g}, start at distance {args.radius:g} from the "
          f"equilibrium" + (f"; NumPy on {K} of {S} settings" if K < S else ""))

    # ---- warm-up (compile) and results
    notes, contenders, kinds = [], {}, {}
    steps_call = lambda: dynamics.steps_to_tolerance_grid(game, start, [lr], mags, angles,
                                                          steps=T, tol=tol)
    got_steps, note = first_call("steps_to_tolerance_grid", steps_call)
    got_steps = got_steps.ravel()
    notes.append(note)
    contenders["gamedyn steps_to_tolerance_grid"] = steps_call
    kinds["gamedyn steps_to_tolerance_grid"] = "sim"
    if args.simulate:
        fsim = make_simulate_final(T)
        sim_call = lambda: jax.block_until_ready(fsim(game, start, jlr, jbeta))
        got_final, note = first_call("simulate", sim_call)
        notes.append(note)
        contenders["gamedyn simulate (final distance)"] = sim_call
        kinds["gamedyn simulate (final distance)"] = "sim"
    if args.sketch:
        fsk = make_batch_last_sketch(T, tol)
        sk_call = lambda: jax.block_until_ready(fsk(game, start, jlr, jbeta))
        got_sketch, note = first_call("sketch", sk_call)
        notes.append(note)
        contenders["sketch: batch-last carry"] = sk_call
        kinds["sketch: batch-last carry"] = "sim"
    np_call = lambda: numpy_steps(xi, w0, lr_sub, beta_sub, T, tol)
    (ref_hit, ref_final) = np_call()
    contenders["numpy steps to tolerance (n,S)"] = np_call
    kinds["numpy steps to tolerance (n,S)"] = "np"

    rho = None
    if args.eig != "off":
        on_cpu = args.eig == "cpu" or (args.eig == "auto" and jax.default_backend() != "cpu")
        eig_devices = jax.devices("cpu") if on_cpu else None
        eig_label = "gamedyn spectral_radius_grid" + (" (host CPU)" if on_cpu else "")
        eig_call = lambda: dynamics.spectral_radius_grid(game, [lr], mags, angles,
                                                         devices=eig_devices)
        try:
            rho, note = first_call(eig_label.replace("gamedyn ", ""), eig_call)
        except Exception as err:        # e.g. no non-symmetric eig on this backend
            if args.eig != "auto":
                raise
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            where = "host CPU" if on_cpu else f"backend {jax.default_backend()}"
            print(f"  eigenvalue route skipped ({where}): {type(err).__name__}: {first[:200]}")
        else:
            rho = rho.ravel()
            notes.append(note)
            contenders[eig_label] = eig_call
            kinds[eig_label] = "eig"
            J = numpy_jacobian(name, game)
            Jg = np.asarray(games.jacobian(game, game.equilibrium()))
            assert np.allclose(J, Jg, rtol=0, atol=1e-12), "written-out J != games.jacobian"
            eig_np_call = lambda: numpy_radius(J, lr_sub, beta_sub)
            ref_rho = eig_np_call()
            contenders["numpy eigvals (S,3d,3d)"] = eig_np_call
            kinds["numpy eigvals (S,3d,3d)"] = "eig-np"
    print(f"  first calls (trace + compile + run): {', '.join(notes)}")

    # ---- the heatmap
    conv = np.isfinite(got_steps)
    line = f"  heatmap: {int(conv.sum())} of {S} settings reach {tol:g} within {T} steps"
    if conv.any():
        i = int(np.argmin(np.where(conv, got_steps, np.inf)))
        line += (f"; fastest {int(got_steps[i])} steps at |beta| {abs(beta[i]):.3f}, "
                 f"arg {np.angle(beta[i]):.3f}")
    if rho is not None:
        line += f"; spectral radius < 1 at {int((rho < 1).sum())} (min {rho.min():.4f})"
    print(line)

    # ---- agreement
    rerun = lambda idx: numpy_steps(xi, w0, lr_sub[idx], beta_sub[idx], T, tol, record=True)[2]
    check_steps("steps_to_tolerance_grid", got_steps[sub], ref_hit, rerun, T, tol,
                args.edge_rtol)
    if args.sketch:
        sk = np.asarray(got_sketch)[sub].astype(float)
        sk[sk < 0] = np.inf
        check_steps("sketch", sk, ref_hit, rerun, T, tol, args.edge_rtol)
    if args.simulate:
        fin = np.asarray(got_final)[sub]
        both = (ref_final <= args.radius) & np.isfinite(fin)
        rel = np.abs(fin[both] - ref_final[both]) / ref_final[both]
        worst = float(rel.max(initial=0.0))
        print(f"  agreement, simulate final distance vs NumPy where it shrank "
              f"({int(both.sum())} settings): max relative difference {worst:.2e}")
        assert worst <= 1e-6, f"simulate final distance differs from NumPy by {worst:.3g}"
        assert ((ref_final <= args.radius) == (fin <= args.radius)).all(), \
            "simulate and NumPy disagree on which settings shrank"
    if rho is not None:
        diff = np.abs(rho[sub] - ref_rho)
        worst = float(diff.max())
        print(f"  agreement, spectral_radius_grid vs NumPy eigvals of the augmented matrix: "
              f"max abs difference {worst:.2e} (tol {args.eig_tol:g})")
        assert worst <= args.eig_tol, f"spectral radius differs by {worst:.3g} > {args.eig_tol:g}"

    # ---- timing, interleaved
    times = {k: [] for k in contenders}
    for _ in range(args.repeats):
        for k, fn in contenders.items():
            times[k].append(timed(fn))
    med = {k: float(np.median(v)) for k, v in times.items()}
    work = {"sim": S * T, "np": K * T, "eig": S, "eig-np": K}
    rate = {k: work[kinds[k]] / med[k] for k in med}
    print(f"  timings (median of {args.repeats} interleaved runs):")
    for k in contenders:
        unit = "settings/s" if kinds[k].startswith("eig") else "trajectory-steps/s"
        print(f"    {k:40s} median {fmt_ms(med[k])}  min {fmt_ms(min(times[k]))}  "
              f"{rate[k]:10.3e} {unit}")
    np_sim = "numpy steps to tolerance (n,S)"
    for k in contenders:
        if kinds[k] == "sim":
            print(f"    ratio {k} / numpy: {rate[k] / rate[np_sim]:.2f}x")
        if kinds[k] == "eig":
            print(f"    ratio {k} / numpy eigvals: "
                  f"{rate[k] / rate['numpy eigvals (S,3d,3d)']:.2f}x")
    ratio = rate["gamedyn steps_to_tolerance_grid"] / rate[np_sim]
    print(f"RATIO {name} (steps_to_tolerance_grid vs NumPy, simulated route): {ratio:.2f}x")
    return ratio


def main(argv=None):
    args = parse_args(argv)
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    import dynamics
    import games

    print(f"gamedyn rate-heatmap benchmark: {args.grid} x {args.grid} grid (|beta| in "
          f"{list(MAG_RANGE)} x arg beta in [0, pi]) x {args.steps} steps of simultaneous "
          f"complex momentum, tol {args.tol:g}, float64")
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, devices {jax.devices()}; "
          f"numpy {np.__version__}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs")
    for name in args.games:
        bench_game(name, args, jax, jnp, games, dynamics)


if __name__ == "__main__":
    main()
