"""Hypergradient benchmark: gamedyn's matrix-free hypergradients on a ~1M-weight MLP.

An MLP 64 -> H -> H -> 10 (ReLU; H = ``--hidden``, 1024 by default: 1,126,410
weights and biases) classifies scikit-learn's digits (``games.load_digits``,
standardised).  Every weight and bias has its own L2 decay exp(lambda_i), so
lambda has as many entries as w (1,126,410 hyperparameters by default):

    inner(lambda, w) = CE(w; fixed training batch of --batch examples)
                       + 1/2 sum_i exp(lambda_i) w_i^2
    outer(lambda, w) = CE(w; validation set of --val examples)

At one point (lambda = log(--decay) everywhere; w after ``--train-steps`` Adam
steps on the inner loss, so the Hessian H is that of a partly trained network)
it times, side by side (interleaved repeats, medians, each a jitted program
after a warm-up call, ``jax.block_until_ready``):

* one training gradient (grad of inner in w) and one SGD training step;
* Hessian-vector products two ways: a standalone forward-over-reverse HVP
  (``jax.jvp`` of the gradient), and the library's kind, reverse-over-reverse
  (``jax.vjp`` of the gradient, linearised once at (lambda, w), then its vjp
  applied): linearisation + 1 product, and linearisation + 21 products in a
  ``lax.scan`` (u <- alpha H u).  The unit of the "HVP-eq" column is the product
  one solver iteration costs: the slope (t(21) - t(1)) / 20 of those two, which
  leaves the one-off linearisation out (inside one jitted program the
  linearisation cannot be hoisted out of the timing; the slope is what each
  further iteration adds);
* ``dynamics.hypergradient`` with ``Identity()`` (no products: the fixed cost),
  ``Neumann(alpha, terms)`` for terms in {1, 5, 10, 20} (terms - 1 products),
  ``CG(k)`` (gamedyn's own loop from u = 0: k products) and ``GMRES(k)``
  (``jax.scipy.sparse.linalg.gmres``: k + 2) for k in {5, 20},
  ``Unrolled(k, alpha)`` for k in {1, 5, 10, 20}, and ``CG(20)`` with
  ``info=True`` (the residual diagnostic: one product more);
* the same hypergradient by jaxopt's implicit differentiation at equal
  iterations: ``jaxopt.implicit_diff.root_vjp`` on the optimality condition
  grad_w inner (products by the same linearised vjp),
  ``solve=partial(jaxopt.linear_solve.solve_cg, maxiter=k, tol=t)`` (jax.scipy's
  ``cg``: k + 1 products, one on A x0 at x0 = 0) and
  ``partial(solve_gmres, restart=k, maxiter=1, tol=t)`` (jax's ``maxiter`` counts
  GMRES restart cycles, so ``restart=k, maxiter=1`` is k Krylov vectors, as
  ``GMRES(k)``), t the same tolerance as gamedyn's (1e-10: never reached, every
  contender runs its k iterations).  jaxopt is optional, for this script only
  (``pip install jaxopt``); without it, or with ``--no-jaxopt``, those rows are
  skipped;
* joint tuning: 5 SGD training steps + one ``Neumann(alpha, 3)`` hypergradient +
  an SGD step on lambda, against 5 SGD training steps alone.

alpha = 1 / lambda_max(H) (``dynamics.hessian_top_eigenvalue``), also the
unrolled steps' learning rate (so ``Unrolled(k, alpha)`` and ``Neumann(alpha, k)``
coincide when w is exactly the inner minimiser; here w is only partly trained).

Agreement, at equal k, relative 2-norm difference of the whole hypergradient:

* the timed ``hypergradient`` against jaxopt, to ``--agree-rtol``: both multiply
  by H with the same linearised vjp, GMRES(k) runs the same ``jax.scipy`` solver
  (so it should match bit for bit), and CG(k) runs the same recurrences in
  gamedyn's loop and in jax.scipy's ``cg``, so they differ only by rounding;
  CG on this H (nearly singular, possibly indefinite: a partly trained ReLU
  network's Hessian; the script prints an upper bound on lambda_min(H) from
  power iterations on lambda_max I - H) can amplify rounding by ~1e6-1e7 at
  k = 20 in float32 (``--dtype float64`` shrinks it);
* ``hypergradient(outer, inner, ...)`` against ``hypergradient_of_root(outer,
  grad_w inner, ...)`` (untimed): the same computation (the latter adds only a
  symmetry probe for CG, used by ``info``), so bit-identical or nearly.

Accuracy: every hypergradient's relative error to a reference, ``GMRES(--ref-iters)``
with tol 1e-7 (GMRES, not CG: valid on an indefinite H; its relative residual is
printed: on this nearly singular H even the reference is not fully converged), is
shown, with whether it falls as k grows (information, not one of the targets).

Time: median ms, ratio to the training gradient, and HVP-equivalents = time /
(one solver product, the slope above).  Memory: of each compiled program,
``jax.jit(f).lower(*args).compile().memory_analysis()``; "memory" is
``temp_size_in_bytes + argument_size_in_bytes + output_size_in_bytes`` (alias is
0: nothing is donated): XLA's buffer assignment shares temporaries by liveness, so
the temp size is the most the program's intermediates hold at once, and the sum
bounds the program's peak.  (``peak_memory_in_bytes`` is not used: on the CPU
backend of jax 0.10.2 it equals argument + output bytes, without the temps.  Peak
RSS is not used either: one process runs every contender, and its RSS holds them
all, the reference and XLA's caches.)

    python benchmarks/hypergrad.py                    # the 1,126,410-weight model
    python benchmarks/hypergrad.py --hidden 128 --repeats 3   # quick (26,122 weights)
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

NEUMANN_TERMS = (1, 5, 10, 20)
KRYLOV_ITERS = (5, 20)
UNROLLED_STEPS = (1, 5, 10, 20)
SOLVER_TOL = 1e-10            # CG/GMRES tolerance, gamedyn and jaxopt alike: never reached
JOINT_TRAIN_STEPS = 5
JOINT_TERMS = 3
LMIN_ITERS = 200              # power iterations for the lambda_min(H) estimate
PRODUCT_LOOP = 21             # products in the linearised-vjp loop; unit = slope 1 -> 21
HVP_FWD = "HVP (fwd-over-rev)"
HVP_REV = "HVP (rev-over-rev: linearise + 1 vjp)"
HVP_LOOP = f"linearise + {PRODUCT_LOOP} vjps (rev-over-rev)"
NOISE = 1.05                  # "no slower than jaxopt": median ratio <= 1.05 (shared CPU)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hidden", type=int, default=1024,
                   help="width of both hidden layers (default 1024: 1,126,410 weights)")
    p.add_argument("--repeats", type=int, default=5,
                   help="timed runs of each contender, interleaved; medians (default 5)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--no-jaxopt", dest="jaxopt", action="store_false",
                   help="skip the jaxopt rows")
    p.add_argument("--batch", type=int, default=512,
                   help="training examples in the fixed batch (default 512)")
    p.add_argument("--val", type=int, default=512, help="validation examples (default 512)")
    p.add_argument("--decay", type=float, default=1e-2,
                   help="exp(lambda) at the benchmark point, every weight (default 1e-2)")
    p.add_argument("--train-steps", type=int, default=200,
                   help="Adam steps (lr 1e-3) on the inner loss before measuring (default 200)")
    p.add_argument("--ref-iters", type=int, default=200,
                   help="Krylov vectors of the reference GMRES hypergradient (default 200)")
    p.add_argument("--agree-rtol", type=float, default=None,
                   help="gamedyn vs jaxopt at equal iterations, relative 2-norm "
                        "(default 1e-3 in float32, 1e-9 in float64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--synthetic", action="store_true",
                   help="random data of the digits' shapes instead of games.load_digits "
                        "(a smoke test where scikit-learn is missing; not for the README)")
    args = p.parse_args(argv)
    if min(args.hidden, args.repeats, args.batch, args.val, args.ref_iters) < 1 \
            or args.train_steps < 0 or args.decay <= 0:
        p.error("sizes, --repeats and --ref-iters must be positive, --decay > 0")
    if args.agree_rtol is None:
        args.agree_rtol = 1e-3 if args.dtype == "float32" else 1e-9
    return args


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# ----------------------------------------------------------------------------- problem

def load_data(args, jnp):
    if args.synthetic:
        rng = np.random.default_rng(args.seed)
        n = args.batch + args.val
        x = rng.normal(size=(n, 64)).astype(args.dtype)
        y = rng.integers(0, 10, size=n)
        return (jnp.asarray(x[:args.batch]), jnp.asarray(y[:args.batch]),
                jnp.asarray(x[args.batch:]), jnp.asarray(y[args.batch:]), 10,
                f"synthetic N(0,1) data of the digits' shapes ({args.batch} train, "
                f"{args.val} validation)")
    import games
    if not hasattr(games, "load_digits"):
        sys.exit("games.load_digits is not available in this checkout (use --synthetic "
                 "for a smoke test on random data)")
    d = games.load_digits(n_train=args.batch, n_val=args.val, seed=args.seed,
                          dtype=np.dtype(args.dtype))
    xtr, ytr, xva, yva = (jnp.asarray(a) for a in (d.x_train, d.y_train, d.x_val, d.y_val))
    assert xtr.shape == (args.batch, 64) and xva.shape == (args.val, 64), (xtr.shape, xva.shape)
    return (xtr, ytr, xva, yva, int(d.num_classes),
            f"digits (games.load_digits, seed {args.seed}): {xtr.shape[0]} train (the fixed "
            f"batch), {xva.shape[0]} validation, standardised")


def make_losses(jax, jnp, apply):
    def ce(w, x, y):
        logp = jax.nn.log_softmax(apply(w, x))
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    def inner(lam, w, x, y):
        decay = sum(jnp.sum(jnp.exp(l) * p * p) for l, p in
                    zip(jax.tree_util.tree_leaves(lam), jax.tree_util.tree_leaves(w)))
        return ce(w, x, y) + 0.5 * decay

    def accuracy(w, x, y):
        return jnp.mean(jnp.argmax(apply(w, x), axis=-1) == y)

    return ce, inner, accuracy


# ----------------------------------------------------------------------------- contenders

def make_contenders(jax, jnp, dynamics, ce, inner, alpha, jaxopt):
    """name -> (function of the arrays named in ``args``, args, kind, k): kind is one
    of base, hg (gamedyn hypergradient), jaxopt, joint."""
    tmap = jax.tree_util.tree_map
    grad_w = jax.grad(inner, argnums=1)
    HG = ("lam", "w", "xtr", "ytr", "xva", "yva")

    def hypergradient(method, info=False):
        def f(lam, w, xtr, ytr, xva, yva):
            out = dynamics.hypergradient(lambda l, w_: ce(w_, xva, yva),
                                         lambda l, w_: inner(l, w_, xtr, ytr),
                                         lam, w, method, info=info)
            return out
        return f

    def jaxopt_hypergradient(solve):
        def f(lam, w, xtr, ytr, xva, yva):
            g_lam, v = jax.grad(lambda l, w_: ce(w_, xva, yva), argnums=(0, 1))(lam, w)
            (indirect,) = jaxopt.implicit_diff.root_vjp(
                lambda w_, l: grad_w(l, w_, xtr, ytr), w, (lam,), v, solve=solve)
            return tmap(jnp.add, g_lam, indirect)
        return f

    def products(n):
        """The library's product: the gradient in w linearised once (``jax.vjp``),
        then n products u <- alpha H u with its vjp (alpha keeps u bounded)."""
        def f(lam, w, v, xtr, ytr):
            _, vjp_w = jax.vjp(lambda w_: grad_w(lam, w_, xtr, ytr), w)
            u, _ = jax.lax.scan(lambda u, _: (tmap(lambda x: alpha * x, vjp_w(u)[0]), None),
                                v, None, length=n)
            return u
        return f

    def sgd(lam, w, xtr, ytr, steps):
        for _ in range(steps):
            w = tmap(lambda p, g: p - alpha * g, w, grad_w(lam, w, xtr, ytr))
        return w

    def joint(lam, w, xtr, ytr, xva, yva):
        w = sgd(lam, w, xtr, ytr, JOINT_TRAIN_STEPS)
        hg = dynamics.hypergradient(lambda l, w_: ce(w_, xva, yva),
                                    lambda l, w_: inner(l, w_, xtr, ytr),
                                    lam, w, dynamics.Neumann(alpha, JOINT_TERMS))
        return tmap(lambda l, g: l - 0.1 * g, lam, hg), w

    c = {
        "train gradient": (lambda lam, w, xtr, ytr: grad_w(lam, w, xtr, ytr),
                           ("lam", "w", "xtr", "ytr"), "base", None),
        "train step (SGD)": (lambda lam, w, xtr, ytr: sgd(lam, w, xtr, ytr, 1),
                             ("lam", "w", "xtr", "ytr"), "base", None),
        HVP_FWD: (lambda lam, w, v, xtr, ytr: jax.jvp(
            lambda w_: grad_w(lam, w_, xtr, ytr), (w,), (v,))[1],
            ("lam", "w", "v", "xtr", "ytr"), "base", None),
        HVP_REV: (products(1), ("lam", "w", "v", "xtr", "ytr"), "base", 1),
        HVP_LOOP: (products(PRODUCT_LOOP), ("lam", "w", "v", "xtr", "ytr"), "base",
                   PRODUCT_LOOP),
        "Identity()": (hypergradient(dynamics.Identity()), HG, "hg", 0),
    }
    for k in NEUMANN_TERMS:
        c[f"Neumann(terms={k})"] = (hypergradient(dynamics.Neumann(alpha, k)), HG, "hg", k)
    for name, method in (("CG", dynamics.CG), ("GMRES", dynamics.GMRES)):
        for k in KRYLOV_ITERS:
            c[f"{name}({k})"] = (hypergradient(method(k, tol=SOLVER_TOL)), HG, "hg", k)
    c["CG(20) info=True"] = (hypergradient(dynamics.CG(20, tol=SOLVER_TOL), info=True), HG,
                             "hg", 20)
    for k in UNROLLED_STEPS:
        c[f"Unrolled({k})"] = (hypergradient(dynamics.Unrolled(k, alpha)), HG, "hg", k)
    if jaxopt is not None:
        ls = jaxopt.linear_solve
        for k in KRYLOV_ITERS:
            c[f"jaxopt CG({k})"] = (jaxopt_hypergradient(
                functools.partial(ls.solve_cg, maxiter=k, tol=SOLVER_TOL)), HG, "jaxopt", k)
        if hasattr(ls, "solve_gmres"):
            for k in KRYLOV_ITERS:
                c[f"jaxopt GMRES({k})"] = (jaxopt_hypergradient(functools.partial(
                    ls.solve_gmres, restart=k, maxiter=1, tol=SOLVER_TOL)), HG, "jaxopt", k)
    c[f"{JOINT_TRAIN_STEPS} train steps"] = (
        lambda lam, w, xtr, ytr: sgd(lam, w, xtr, ytr, JOINT_TRAIN_STEPS),
        ("lam", "w", "xtr", "ytr"), "joint", None)
    c[f"{JOINT_TRAIN_STEPS} steps + Neumann({JOINT_TERMS}) + leader step"] = (
        joint, HG, "joint", None)
    return c


def family(prefix):
    """'Neumann(terms=' -> 'Neumann', 'jaxopt CG(' -> 'jaxopt CG'."""
    return prefix.split("(")[0]


def nominal_products(name, k):
    """Products with H each contender makes, read from the code, for the table:
    gamedyn's CG makes one per iteration from u = 0 (+1 for info's residual);
    jax.scipy's cg (jaxopt's solve_cg) computes A x0 at x0 = 0 before iterating;
    jax.scipy's gmres (gamedyn's GMRES and jaxopt's solve_gmres) computes the
    residual before and after the cycle."""
    if name.startswith("Neumann"):
        return str(k - 1)
    if name.startswith("jaxopt CG("):
        return f"{k}+1"
    if name.startswith("CG("):
        return f"{k}" + ("+1" if "info" in name else "")
    if "GMRES(" in name:
        return f"{k}+2"
    if name.startswith("Unrolled"):
        return f"{k} steps"
    if name in (HVP_REV, HVP_LOOP):
        return f"{k}"
    return {HVP_FWD: "1", "Identity()": "0"}.get(name, "")


# ----------------------------------------------------------------------------- main

def main(argv=None):
    args = parse_args(argv)
    import jax
    if args.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax
    from jax.flatten_util import ravel_pytree

    import dynamics
    import nets

    jaxopt, jaxopt_note = None, "skipped (--no-jaxopt)"
    if args.jaxopt:
        try:
            import jaxopt
            import jaxopt.implicit_diff
            import jaxopt.linear_solve
            from importlib.metadata import version
            jaxopt_note = f"jaxopt {version('jaxopt')}"
        except ImportError:
            jaxopt = None
            jaxopt_note = ("jaxopt is NOT installed: the jaxopt rows are skipped "
                           "(`.venv/bin/pip install jaxopt`; benchmark only, not a dependency)")

    dtype = np.dtype(args.dtype)
    xtr, ytr, xva, yva, n_classes, data_note = load_data(args, jnp)
    sizes = (64, args.hidden, args.hidden, n_classes)
    net = nets.mlp(sizes, activation="relu", dtype=dtype)
    ce, inner, accuracy = make_losses(jax, jnp, net.apply)
    w0 = net.init(jax.random.key(args.seed))
    n_weights = sum(p.size for p in jax.tree_util.tree_leaves(w0))
    lam = jax.tree_util.tree_map(lambda p: jnp.full_like(p, math.log(args.decay)), w0)
    vec_bytes = n_weights * dtype.itemsize

    print(f"gamedyn hypergradient benchmark: MLP {' -> '.join(map(str, sizes))} (ReLU), "
          f"{n_weights:,} weights and biases = {n_weights:,} hyperparameters "
          f"(per-weight decay exp(lambda)), {args.dtype} ({vec_bytes / 2**20:.2f} MiB per "
          f"copy of w)")
    print(f"  data: {data_note}")
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, devices {jax.devices()}; "
          f"{jaxopt_note}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs")

    # ---- the benchmark point: w after a short training at lambda = log(decay)
    opt = optax.adam(1e-3)

    @jax.jit
    def pretrain(lam, w):
        def body(carry, _):
            w, s = carry
            g = jax.grad(inner, argnums=1)(lam, w, xtr, ytr)
            upd, s = opt.update(g, s, w)
            return (optax.apply_updates(w, upd), s), None
        (w, _), _ = jax.lax.scan(body, (w, opt.init(w)), None, length=args.train_steps)
        return w

    t0 = time.perf_counter()
    w = jax.block_until_ready(pretrain(lam, w0))
    gnorm = float(jnp.linalg.norm(ravel_pytree(jax.grad(inner, 1)(lam, w, xtr, ytr))[0]))
    lam_max = float(dynamics.hessian_top_eigenvalue(lambda l, w_: inner(l, w_, xtr, ytr),
                                                    lam, w, iters=50))
    alpha = 1.0 / lam_max
    print(f"  point: exp(lambda) = {args.decay:g}; w after {args.train_steps} Adam steps "
          f"({time.perf_counter() - t0:.1f} s): inner {float(inner(lam, w, xtr, ytr)):.4f}, "
          f"|grad_w inner| {gnorm:.3g}, train CE {float(ce(w, xtr, ytr)):.4f} "
          f"(acc {float(accuracy(w, xtr, ytr)):.3f}), val CE {float(ce(w, xva, yva)):.4f} "
          f"(acc {float(accuracy(w, xva, yva)):.3f})")
    print(f"  lambda_max(H) ~ {lam_max:.4g} (50 power iterations); alpha = 1/lambda_max = "
          f"{alpha:.4g} (Neumann alpha, Unrolled lr and SGD lr); "
          f"condition number >= {lam_max / args.decay:.3g} if H >= exp(lambda) I")

    arrays = {"lam": lam, "w": w, "xtr": xtr, "ytr": ytr, "xva": xva, "yva": yva,
              "v": jax.tree_util.tree_map(
                  lambda p: jax.random.normal(jax.random.key(1), p.shape, p.dtype), w)}

    # ---- the smallest eigenvalue of H, roughly: power iteration on lambda_max I - H
    flat_w, unravel_w = ravel_pytree(w)

    @jax.jit
    def lambda_min_estimate(lam, w, xtr, ytr):
        def hvp(x):
            return ravel_pytree(jax.jvp(lambda w_: jax.grad(inner, 1)(lam, w_, xtr, ytr),
                                        (w,), (unravel_w(x),))[1])[0]

        def body(x, _):
            y = lam_max * x - hvp(x)
            return y / jnp.linalg.norm(y), None
        x0 = jax.random.normal(jax.random.key(2), flat_w.shape, flat_w.dtype)
        x, _ = jax.lax.scan(body, x0 / jnp.linalg.norm(x0), None, length=LMIN_ITERS)
        return jnp.vdot(x, hvp(x))

    t0 = time.perf_counter()
    lam_min = float(lambda_min_estimate(lam, w, xtr, ytr))
    print(f"  lambda_min(H) <= {lam_min:.3g} (Rayleigh quotient after {LMIN_ITERS} power "
          f"iterations on lambda_max I - H; {time.perf_counter() - t0:.1f} s): "
          + ("H is INDEFINITE here (CG is formally invalid; it still runs)" if lam_min < 0 else
             "no negative curvature found (the estimate is only an upper bound)"))

    # ---- reference: GMRES with many Krylov vectors (valid on an indefinite H)
    t0 = time.perf_counter()
    ref, ref_info = jax.jit(lambda lam, w, xtr, ytr, xva, yva: dynamics.hypergradient(
        lambda l, w_: ce(w_, xva, yva), lambda l, w_: inner(l, w_, xtr, ytr), lam, w,
        dynamics.GMRES(args.ref_iters, tol=1e-7), info=True))(lam, w, xtr, ytr, xva, yva)
    ref = ravel_pytree(ref)[0]
    print(f"  reference: GMRES({args.ref_iters}, tol 1e-7), relative residual "
          f"{float(ref_info.residual):.2e}, |hypergradient| {float(jnp.linalg.norm(ref)):.3g} "
          f"({time.perf_counter() - t0:.1f} s)")

    # ---- compile every contender; memory; warm-up call; results
    contenders = make_contenders(jax, jnp, dynamics, ce, inner, alpha, jaxopt)
    calls, memory, results, compile_s = {}, {}, {}, {}
    for name, (f, names, kind, k) in contenders.items():
        a = tuple(arrays[n] for n in names)
        t0 = time.perf_counter()
        compiled = jax.jit(f).lower(*a).compile()
        out = jax.block_until_ready(compiled(*a))
        compile_s[name] = time.perf_counter() - t0
        m = compiled.memory_analysis()
        assert m.alias_size_in_bytes == 0, name
        memory[name] = (m.temp_size_in_bytes + m.argument_size_in_bytes
                        + m.output_size_in_bytes, m.temp_size_in_bytes,
                        m.argument_size_in_bytes, m.output_size_in_bytes)
        if kind in ("hg", "jaxopt"):
            if isinstance(out, tuple):          # info=True
                out = out[0]
            results[name] = ravel_pytree(out)[0]
        calls[name] = (lambda compiled=compiled, a=a: jax.block_until_ready(compiled(*a)))
    print(f"  compile + first call: {sum(compile_s.values()):.1f} s for {len(calls)} programs "
          f"(slowest {max(compile_s, key=compile_s.get)}: {max(compile_s.values()):.1f} s)")

    # ---- untimed: the same hypergradients by hypergradient_of_root on grad_w inner
    # (the same computation inside the library: checks the two entry points agree)
    of_root = {}
    grad_w = jax.grad(inner, argnums=1)
    for name, method in (("CG", dynamics.CG), ("GMRES", dynamics.GMRES)):
        for k in KRYLOV_ITERS:
            f = jax.jit(lambda lam, w, xtr, ytr, xva, yva, m=method(k, tol=SOLVER_TOL):
                        dynamics.hypergradient_of_root(
                            lambda l, w_: ce(w_, xva, yva),
                            lambda l, w_: grad_w(l, w_, xtr, ytr), lam, w, m))
            of_root[f"{name}({k})"] = ravel_pytree(f(lam, w, xtr, ytr, xva, yva))[0]

    # ---- timing, interleaved
    times = {n: [] for n in calls}
    t0 = time.perf_counter()
    for _ in range(args.repeats):
        for n, fn in calls.items():
            times[n].append(timed(fn))
    print(f"  timed {args.repeats} interleaved repeats of {len(calls)} contenders in "
          f"{time.perf_counter() - t0:.1f} s")
    med = {n: float(np.median(v)) for n, v in times.items()}
    t_grad = med["train gradient"]
    # the unit: what one more linearised-vjp product adds (the linearisation is
    # paid once per hypergradient, in the fixed part)
    t_hvp = (med[HVP_LOOP] - med[HVP_REV]) / (PRODUCT_LOOP - 1)
    unit_note = (f"one solver product = (t({PRODUCT_LOOP} vjps) - t(1 vjp)) / "
                 f"{PRODUCT_LOOP - 1} = {1e3 * t_hvp:.1f} ms")
    if t_hvp <= 0:                       # only if the timings are very noisy
        t_hvp = med[HVP_REV]
        unit_note = (f"the slope was not positive (noise): unit = the standalone "
                     f"linearise + 1 vjp, {1e3 * t_hvp:.1f} ms")
    print(f"  products: {unit_note}; standalone fwd-over-rev HVP {1e3 * med[HVP_FWD]:.1f} ms "
          f"({med[HVP_FWD] / t_hvp:.2f} units), linearise + 1 vjp {1e3 * med[HVP_REV]:.1f} ms "
          f"(linearisation ~ {1e3 * (med[HVP_REV] - t_hvp):.1f} ms = "
          f"{(med[HVP_REV] - t_hvp) / t_grad:.2f} training gradients)")
    mem_step = memory["train step (SGD)"][0]

    def rel(a, b):
        return float(jnp.linalg.norm(a - b) / jnp.maximum(jnp.linalg.norm(b), 1e-30))

    err = {n: rel(r, ref) for n, r in results.items()}

    # ---- the table
    mib = lambda b: b / 2**20
    print()
    print(f"Median of {args.repeats} interleaved runs; x grad = time / training gradient; "
          f"HVP-eq = time / one solver product ({1e3 * t_hvp:.1f} ms: the linearised-vjp "
          f"loop's slope); memory = temp + argument + "
          f"output bytes of the compiled program (memory_analysis()), x step = memory / "
          f"the SGD training step's ({mib(mem_step):.1f} MiB); rel err = |g - g_ref| / |g_ref|, g_ref = GMRES({args.ref_iters}).")
    head = (f"| {'contender':42s} | {'H products':>10s} | {'median ms':>9s} | {'x grad':>6s} | "
            f"{'HVP-eq':>6s} | {'target':>6s} | {'memory MiB':>10s} | {'x step':>6s} | "
            f"{'temp/arg/out MiB':>16s} | {'rel err':>8s} |")
    print(head)
    print("|" + "|".join("-" * (len(s)) for s in head.split("|")[1:-1]) + "|")
    for n, (_, _, kind, k) in contenders.items():
        total, temp, arg, outb = memory[n]
        target = f"{k + 2}" if (n.startswith(("Neumann", "CG", "GMRES")) and
                                "info" not in n) else ""
        print(f"| {n:42s} | {nominal_products(n, k):>10s} | {1e3 * med[n]:9.1f} | "
              f"{med[n] / t_grad:6.2f} | {med[n] / t_hvp:6.2f} | {target:>6s} | "
              f"{mib(total):10.1f} | {total / mem_step:6.2f} | "
              f"{mib(temp):6.1f}/{mib(arg):4.1f}/{mib(outb):4.1f} | "
              + (f"{err[n]:8.2e}" if n in err else " " * 8) + " |")

    # ---- cost model: slope and intercept in HVPs per method (from the k's measured)
    print()
    print("Cost per iteration and fixed cost, in HVP-equivalents (one solver product; least "
          "squares over the k's):")
    fits = {}
    for prefix, ks in (("Neumann(terms=", NEUMANN_TERMS), ("CG(", KRYLOV_ITERS),
                       ("GMRES(", KRYLOV_ITERS), ("Unrolled(", UNROLLED_STEPS),
                       ("jaxopt CG(", KRYLOV_ITERS), ("jaxopt GMRES(", KRYLOV_ITERS)):
        names = [f"{prefix}{k})" for k in ks]
        if not all(n in med for n in names):
            continue
        y = np.array([med[n] / t_hvp for n in names])
        slope, icpt = np.polyfit(np.array(ks, float), y, 1)
        fits[prefix] = (slope, icpt)
        print(f"  {family(prefix):14s} time ~ {slope:.2f} k {icpt:+.2f} HVP-eq")
    print(f"  Identity() (validation gradient + one vjp in lambda; no linearisation, no "
          f"product): {med['Identity()'] / t_hvp:.2f} HVP-eq; the linearisation every "
          f"solver adds once: {(med[HVP_REV] - t_hvp) / t_hvp:.2f} HVP-eq; info=True on "
          f"CG(20) adds "
          f"{(med['CG(20) info=True'] - med['CG(20)']) / t_hvp:+.2f} HVP-eq")

    # ---- agreement
    print()
    print("Agreement at equal iterations (relative 2-norm difference of the hypergradients):")
    agree, same = [], []
    if jaxopt is None:
        print(f"  jaxopt: skipped: {jaxopt_note}")
    for name in ("CG", "GMRES"):
        for k in KRYLOV_ITERS:
            mine = f"{name}({k})"
            d_root = rel(results[mine], of_root[mine])
            same.append((mine, d_root))
            line = f"  {mine}: hypergradient vs hypergradient_of_root {d_root:.2e}"
            other = f"jaxopt {mine}"
            if other in results:
                d = rel(results[mine], results[other])
                agree.append((mine, d))
                line += (f"; vs {other} {d:.2e} (tolerance {args.agree_rtol:g}: "
                         f"{'ok' if d <= args.agree_rtol else 'DISAGREE'})")
            print(line)
    if agree and max(d for _, d in agree) > args.agree_rtol:
        print("  (same products on both sides; CG(k) is gamedyn's loop against jax.scipy's cg, "
              "the same recurrences rounded differently, and CG amplifies rounding on this H "
              f"(lambda_min estimate {lam_min:.2g}); --dtype float64 shrinks it)")
    for k in UNROLLED_STEPS:
        d = rel(results[f"Unrolled({k})"], results[f"Neumann(terms={k})"])
        print(f"  Unrolled({k}) vs Neumann(alpha, {k}): relative difference {d:.2e} "
              f"(equal only at an exact inner minimum; here |grad_w inner| = {gnorm:.3g})")
    converge = {}
    for prefix, ks in (("Neumann(terms=", NEUMANN_TERMS), ("CG(", KRYLOV_ITERS),
                       ("GMRES(", KRYLOV_ITERS), ("Unrolled(", UNROLLED_STEPS)):
        es = [err[f"{prefix}{k})"] for k in ks]
        converge[family(prefix)] = es[-1] < es[0]
        print(f"  {family(prefix):14s} relative error to GMRES({args.ref_iters}) at k = "
              f"{', '.join(map(str, ks))}: {', '.join(f'{e:.3e}' for e in es)}")

    # ---- joint tuning
    t_train5 = med[f"{JOINT_TRAIN_STEPS} train steps"]
    t_joint = med[f"{JOINT_TRAIN_STEPS} steps + Neumann({JOINT_TERMS}) + leader step"]
    joint_ratio = t_joint / t_train5

    # ---- TARGETS
    def verdict(ok):
        return "held" if ok else "missed"

    print()
    print("TARGETS (this run; each: the measured figures, held or missed):")
    hvp_eq = [(n, med[n] / t_hvp, k) for n, (_, _, kind, k) in contenders.items()
              if kind == "hg" and n.startswith(("Neumann", "CG", "GMRES")) and "info" not in n]
    over = [n for n, e, k in hvp_eq if e > k + 2]
    print(f"  [{verdict(not over)}] Neumann(k), CG(k), GMRES(k) at most k + 2 HVP-equivalents "
          f"each (time / one solver product, {1e3 * t_hvp:.1f} ms): "
          + ", ".join(f"{n} {e:.2f} (<= {k + 2})" for n, e, k in hvp_eq)
          + (f"; over: {', '.join(over)}" if over else ""))
    if jaxopt is not None:
        slower = [(f"{name}({k})", med[f"{name}({k})"] / med[f"jaxopt {name}({k})"])
                  for name in ("CG", "GMRES") for k in KRYLOV_ITERS
                  if f"jaxopt {name}({k})" in med]
        bad = [n for n, r in slower if r > NOISE]
        print(f"  [{verdict(not bad)}] no slower than jaxopt at equal iterations (median time "
              f"gamedyn / jaxopt <= {NOISE}, the margin for a shared CPU): "
              + ", ".join(f"{n} {r:.2f}x" for n, r in slower)
              + (f"; slower: {', '.join(bad)}" if bad else ""))
        bad = [n for n, d in agree if d > args.agree_rtol]
        print(f"  [{verdict(not bad)}] agreement with jaxopt at equal iterations (the timed "
              f"hypergradient; both rev-over-rev products), relative <= {args.agree_rtol:g}: "
              + ", ".join(f"{n} {d:.1e}" for n, d in agree)
              + (" (CG rounding amplified on this H: see Agreement)" if bad else ""))
    else:
        print(f"  [skipped] no slower than jaxopt; agreement with jaxopt: {jaxopt_note}")
    bad = [n for n, d in same if d > args.agree_rtol]
    print(f"  [{verdict(not bad)}] hypergradient(inner) vs hypergradient_of_root(grad_w inner) "
          f"at equal iterations, relative <= {args.agree_rtol:g}: "
          + ", ".join(f"{n} {d:.1e}" for n, d in same))
    for prefix, ks in (("Neumann(terms=", NEUMANN_TERMS), ("CG(", KRYLOV_ITERS)):
        ms = [memory[f"{prefix}{k})"][0] for k in ks]
        within = max(ms) <= 2 * mem_step
        # flat among the k that run a loop (Neumann(terms=1) makes no product, no loop)
        looped = [m for k, m in zip(ks, ms) if k >= 2]
        flat = max(looped) <= 1.01 * min(looped)
        what = family(prefix)
        print(f"  [{verdict(within)}] {what} peak memory within 2x a training step's "
              f"({mib(mem_step):.1f} MiB) at k = {', '.join(map(str, ks))}: "
              f"{', '.join(f'{m / mem_step:.2f}x' for m in ms)}")
        print(f"  [{verdict(flat)}] {what} peak memory flat in k"
              + (" (k >= 2; terms=1 runs no loop)" if what == "Neumann" else "")
              + f": {', '.join(f'{k}: {mib(m):.1f}' for k, m in zip(ks, ms))} MiB")
    ms = [memory[f"Unrolled({k})"][0] for k in UNROLLED_STEPS]
    grows = all(b > a for a, b in zip(ms, ms[1:]))
    print(f"  [{'shown' if grows else 'NOT shown'}] Unrolled peak memory grows with steps: "
          + ", ".join(f"{k}: {mib(m):.1f} MiB ({m / mem_step:.2f}x)"
                      for k, m in zip(UNROLLED_STEPS, ms)))
    print(f"  [{verdict(joint_ratio <= 3)}] joint tuning, one Neumann({JOINT_TERMS}) "
          f"hypergradient + leader step every {JOINT_TRAIN_STEPS} SGD steps, at most 3x "
          f"training alone: {1e3 * t_joint:.1f} / {1e3 * t_train5:.1f} ms = {joint_ratio:.2f}x")
    print("  (information, not a target: error to the reference falls from the smallest to "
          "the largest k: "
          + ", ".join(f"{m} {'yes' if ok else 'NO'}" for m, ok in converge.items()) + ")")


if __name__ == "__main__":
    main()
