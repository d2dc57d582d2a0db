"""`gamedyn ho`: hyperparameter optimisation and dataset distillation on the digits.

Four tasks, each a leader/follower game from ``games`` solved with the nested
dynamics of ``dynamics`` (float32 networks on scikit-learn's 8 x 8 digits):

* ``best-response``: one global log weight decay, 10 training examples.
  Cross-validation (a network trained from the same start at each of 25 decays)
  against the validation loss two hypernetworks predict: a global best response
  (an MLP hypernetwork with 50 hidden units fitted over a Gaussian of decays,
  ``dynamics.fit_best_response``) and the joint local one (a linear
  hypernetwork, ``dynamics.hypernetwork``, which also moves the decay).
* ``weight-decay``: one decay per weight of an MLP, tuned by ``stackelberg``
  with Neumann, CG and unrolled hypergradients and by the joint hypernetwork;
  validation and test loss against wall time, training alone and a grid search
  over one global decay with the same wall time as references.
* ``overfit``: 50 training and 50 validation examples and as many decays as
  weights: the validation set is fitted to 100% accuracy while the test
  accuracy stays behind.
* ``distill``: one learned image per class; fresh networks trained on those 10
  images alone against networks trained on 10 random real images (one per
  class), over several seeds.

Every tuned run goes in segments of compiled steps (the compile is timed
apart); a run whose state turns non-finite is reported as diverged by the end
of the segment in which it did, never raised.

References:
  Lorraine & Duvenaud (2018), "Stochastic Hyperparameter Optimization through
  Hypernetworks", arXiv:1802.09419.  Lorraine, Vicol & Duvenaud (2020),
  "Optimizing Millions of Hyperparameters by Implicit Differentiation", AISTATS.
  Wang, Zhu, Torralba & Efros (2018), "Dataset Distillation", arXiv:1811.10959.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import dynamics
import games
import nets
from experiments import _io
from experiments._args import SEED_MAX, float_in, int_in
from experiments._progress import progress_bar
from experiments._rundir import output_folder
from experiments.registry import UsageError

__all__ = ["TASKS", "DEFAULTS", "add_arguments", "main", "compute", "report", "run"]

# Defaults per task (each runs in about a minute on 2 CPU cores).  "steps" counts
# leader steps (hypernetwork steps for best-response); "train_steps" the Adam
# steps of every network trained from scratch.
# "leader_lr" is the step of the decays (or images) along the hypergradient.
DEFAULTS = {
    "best-response": dict(steps=3000, train_steps=1000, grid=25, fit_steps=5000,
                          centre=-3.5, start=-1.0),
    "weight-decay": dict(steps=800, train_steps=4000, leader_lr=30.0, hyper_leader_lr=30.0,
                         hyper_net_lr=0.01),
    "overfit": dict(steps=1000, train_steps=500, leader_lr=30.0),
    "distill": dict(steps=1000, train_steps=500, leader_lr=1.0, seeds=10),
}
TASKS = tuple(DEFAULTS)
SEGMENTS = 20                   # records per tuned run
TRAIN_LR = 1e-2                 # Adam, for every network trained on its own
LOG_DECAY_RANGE = (-8.0, 1.0)   # best-response: the cross-validation range
WARM_START = 1000               # weight-decay: Adam steps before any run starts


# --------------------------------------------------------------------------- shared pieces


def _adam_follower():
    return dynamics.from_optax(optax.adam(TRAIN_LR))


def _finite(tree) -> bool:
    return bool(all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree_util.tree_leaves(tree)))


def _scores(game, params) -> dict:
    """Loss and accuracy on every split, as floats (None when not finite, and every
    score None for non-finite parameters: an argmax of NaN logits is no accuracy)."""
    scores = game.evaluate(params)
    if not _finite(params):
        return {k: None for k in scores}
    out = {}
    for k, v in scores.items():
        v = float(v)
        out[k] = v if math.isfinite(v) else None
    return out


def _tuned_run(game, dyn, params, steps: int, *, score=None, progress=None,
               label: str = "", done: int = 0, per_step: int = 1) -> dict:
    """Run ``dyn`` on ``game`` for ``steps`` steps in ``SEGMENTS`` compiled segments,
    scoring ``score(state.params)`` (default: ``game``'s scores) after each.
    Returns the curve (steps, wall seconds, scores), the compile seconds, the
    final state and the step by which it diverged.  ``progress(done + per_step *
    steps so far, label)`` after each segment."""
    score = score or (lambda p: _scores(game, p))
    segments = min(SEGMENTS, steps)
    every = steps // segments
    sizes = [every] * segments
    sizes[-1] += steps - every * segments

    def advance(game, state, n):
        return jax.lax.fori_loop(0, n, lambda _, s: dyn.step(game, s), state)

    state = dyn.init(params)
    t = time.perf_counter()
    programs = {n: jax.jit(advance, static_argnums=2).lower(game, state, n).compile()
                for n in set(sizes)}
    compile_s = time.perf_counter() - t
    curve = {"step": [0], "seconds": [0.0], "scores": [score(state.params)]}
    diverged, elapsed, step = None, 0.0, 0
    for n in sizes:
        t = time.perf_counter()
        state = programs[n](game, state)
        jax.block_until_ready(state)
        elapsed += time.perf_counter() - t
        step += n
        curve["step"].append(step)
        curve["seconds"].append(elapsed)
        curve["scores"].append(score(state.params))
        if progress is not None:
            progress(done + per_step * step, label)
        if not _finite(state.params):
            diverged = step
            break
    return {"curve": curve, "compile_s": compile_s, "seconds": elapsed, "state": state,
            "diverged_by": diverged, "final": curve["scores"][-1]}


def _train_from_scratch(model, x, y, w0, log_decay, steps: int, *, regularizer="global"):
    """Adam on CE(w; x, y) + decay, from ``w0``: the weights after ``steps`` steps.
    ``log_decay`` is a scalar (global) or a pytree like w (per weight)."""
    game = games.hyperparameter_optimization(
        model, games.Digits(x, y, x, y, x, y, jnp.zeros(x.shape[-1], x.dtype),
                            jnp.ones(x.shape[-1], x.dtype)),
        regularizer=regularizer)
    dyn = _adam_follower()
    traj = dynamics.simulate(game, dyn, (log_decay, w0), steps, every=steps, metrics=(),
                             record_params=False)
    return traj.final.params[1]


def _row(name: str, how: str, run: dict, extra: dict | None = None) -> dict:
    out = {"method": name, "how": how, "seconds": run["seconds"],
           "compile_s": run["compile_s"], "diverged_by": run["diverged_by"],
           "final": run["final"], "curve": run["curve"]}
    out.update(extra or {})
    return out


def _lam_stats(lam) -> dict:
    leaves = np.concatenate([np.ravel(np.asarray(x, float))
                             for x in jax.tree_util.tree_leaves(lam)])
    return {"count": int(leaves.size), "min": float(np.min(leaves)), "max": float(np.max(leaves)),
            "mean": float(np.mean(leaves))}


def _alpha(game, params) -> float:
    """Neumann's step 1 / lambda_max of the follower's Hessian at ``params``."""
    top = jax.jit(lambda g, lam, w: dynamics.hessian_top_eigenvalue(
        lambda l_, w_: g.losses((l_, w_))[1], lam, w, key=jax.random.key(0)))
    lmax = float(top(game, *params))
    if not (math.isfinite(lmax) and lmax > 0):
        raise RuntimeError(f"the follower's Hessian has top eigenvalue {lmax}; Neumann needs "
                           f"a positive definite Hessian.")
    return 1.0 / lmax, lmax


# --------------------------------------------------------------------------- best-response


def _best_response(o, key, progress):
    steps, train_steps, grid, fit_steps = o["steps"], o["train_steps"], o["grid"], o["fit_steps"]
    data = games.load_digits(n_train=10, n_val=400, seed=o["seed"])
    model = nets.mlp((64, 32, 10), activation="tanh")
    game = games.hyperparameter_optimization(model, data, regularizer="global")
    k_init, k_fit, k_joint = jax.random.split(key, 3)
    w0 = model.init(k_init)
    total = grid * train_steps + fit_steps + steps
    lo, hi = LOG_DECAY_RANGE
    dt = data.x_train.dtype
    val_loss = jax.jit(lambda lam, w: game.losses((lam, w))[0])

    # Cross-validation: every decay trained from the same start (one vmapped program).
    t = time.perf_counter()
    lams = jnp.linspace(lo, hi, grid, dtype=dt)
    ws = jax.vmap(lambda lam: _train_from_scratch(
        model, data.x_train, data.y_train, w0, lam, train_steps))(lams)
    cv = np.asarray(jax.vmap(val_loss)(lams, ws), float)
    cv_s = time.perf_counter() - t
    progress(grid * train_steps, "cross-validation")

    # Global best response (Algorithm 2): an MLP hypernetwork over N(centre, 1.5^2).
    centre, spread = o["centre"], 1.5
    t = time.perf_counter()
    w_centre = _train_from_scratch(model, data.x_train, data.y_train, w0,
                                   jnp.asarray(centre, dt), train_steps)
    lam0 = jnp.asarray(centre, dt)
    glob = nets.mlp_hypernet(w0, lam0, hidden=(50,))
    phi = glob.init(k_fit, w_centre)
    phi, fit_curve = dynamics.fit_best_response(game, glob, phi, mean=centre, std=spread,
                                                steps=fit_steps, key=k_fit, samples=8)
    fine = jnp.linspace(lo, hi, 181, dtype=dt)
    glob_pred = np.asarray(jax.vmap(lambda lam: val_loss(lam, glob.apply(phi, lam)))(fine), float)
    glob_s = time.perf_counter() - t
    progress(grid * train_steps + fit_steps, "global hypernetwork")

    # Joint local best response (Algorithm 3): a linear hypernetwork moves the decay.
    start = jnp.asarray(o["start"], dt)
    w_start = _train_from_scratch(model, data.x_train, data.y_train, w0, start, train_steps)
    local = nets.linear_hypernet(w0, start)
    sigma = 0.5
    dyn = dynamics.hypernetwork(local, leader_lr=0.05, net_lr=0.05, sigma=sigma, samples=4,
                                key=k_joint)
    t = time.perf_counter()
    traj = dynamics.simulate(game, dyn, (start, w_start), steps,
                             every=max(1, steps // 100), metrics=("losses",),
                             record_params=True)
    joint_s = time.perf_counter() - t
    progress(total, "joint hypernetwork")
    lam_path = np.asarray(traj.params[0], float)
    lam_hat = traj.final.params[0]
    phi_j = traj.final.phi
    near = jnp.linspace(lam_hat - 2 * sigma, lam_hat + 2 * sigma, 41).astype(dt)
    joint_pred = np.asarray(jax.vmap(lambda lam: val_loss(lam, local.apply(phi_j, lam)))(near),
                            float)
    # Does the response track? Weights trained from scratch at lambda_hat.
    w_hat = _train_from_scratch(model, data.x_train, data.y_train, w0, lam_hat, train_steps)
    predicted = float(val_loss(lam_hat, local.apply(phi_j, lam_hat)))
    trained = float(val_loss(lam_hat, w_hat))
    finite = np.isfinite(glob_pred)
    rows = {
        "cross-validation": {
            "argmin": float(lams[int(np.nanargmin(cv))]), "val_loss": float(np.nanmin(cv)),
            "seconds": cv_s,
            "how": f"{grid} decays in [{lo:g}, {hi:g}], each trained {train_steps} Adam steps"},
        "global hypernetwork": {
            "argmin": float(fine[int(np.nanargmin(np.where(finite, glob_pred, np.inf)))]),
            "val_loss": float(np.nanmin(glob_pred)), "seconds": glob_s,
            "how": f"MLP hypernetwork (50 hidden), {fit_steps} Adam steps over "
                   f"N({centre:g}, {spread:g}^2), 8 samples a step"},
        "joint hypernetwork": {
            "argmin": float(lam_hat), "val_loss": predicted, "seconds": joint_s,
            "how": f"linear hypernetwork, {steps} steps from lambda = {o['start']:g}, "
                   f"sigma {sigma:g}",
            "trained_val_loss": trained,
            "diverged_at": None if traj.diverged_at < 0 else int(traj.diverged_at)},
    }
    summary = {"tracking_gap": abs(predicted - trained),
               "tracking_relative_gap": abs(predicted - trained) / abs(trained)}
    arrays = {"cv_log_decay": np.asarray(lams, float), "cv_val_loss": cv,
              "global_log_decay": np.asarray(fine, float), "global_val_loss": glob_pred,
              "joint_log_decay": np.asarray(near, float), "joint_val_loss": joint_pred,
              "joint_path": lam_path, "global_fit_loss": np.asarray(fit_curve, float)}
    setup = {"data": "10 training, 400 validation examples",
             "model": "MLP 64-32-10, tanh", "regularizer": "global: 1/2 exp(lambda) |w|^2"}
    return setup, rows, summary, arrays


# --------------------------------------------------------------------------- weight-decay


def _coarse_to_fine(lo: float, hi: float, n: int) -> list[float]:
    """n points of [lo, hi] in the order a bisection visits them (the middle, then
    the quarters, ...), so any prefix covers the range evenly."""
    out, level = [], 1
    while len(out) < n:
        for k in range(1, 2 ** level, 2):
            out.append(lo + (hi - lo) * k / 2 ** level)
            if len(out) == n:
                break
        level += 1
    return out


def _weight_decay(o, key, progress):
    steps, train_steps = o["steps"], o["train_steps"]
    inner = max(1, train_steps // steps)
    data = games.load_digits(n_train=100, n_val=200, seed=o["seed"])
    model = nets.mlp((64, 64, 10), activation="tanh")
    game = games.hyperparameter_optimization(model, data, regularizer="per_weight")
    k_init, k_joint = jax.random.split(key)
    lam0, w0 = game.init(k_init)
    # Every run starts from weights trained at the initial decays (so the
    # Hessian, and Neumann's alpha = 1 / lambda_max, are those of a trained net).
    w0 = _train_from_scratch(model, data.x_train, data.y_train, w0, lam0, WARM_START,
                             regularizer="per_weight")
    params = (lam0, w0)
    alpha, lmax = _alpha(game, params)
    follower = _adam_follower()
    lr = o["leader_lr"]
    stack = lambda method: dynamics.stackelberg(lr, follower=follower, inner_steps=inner,
                                                method=method)
    # name -> (dynamics, how); every method runs steps * inner training steps.
    methods = {
        "neumann": (stack(dynamics.Neumann(alpha, 3)),
                    f"stackelberg, Neumann(alpha, 3) every {inner} training steps"),
        "cg": (stack(dynamics.CG(3, 1e-10)), f"stackelberg, CG(3) every {inner} training steps"),
        "unrolled": (stack(dynamics.Unrolled(3, alpha)),
                     f"stackelberg, through 3 SGD steps of alpha, every {inner} training "
                     f"steps"),
        "hypernetwork": (dynamics.hypernetwork(
            lambda w, lam: nets.factorized_hypernet(w, lam, bottleneck=10),
            leader_lr=o["hyper_leader_lr"], net_lr=o["hyper_net_lr"], sigma=0.5, samples=2,
            key=k_joint), "joint hypernetwork (factorized, bottleneck 10), sigma 0.5, "
                          "every step"),
    }
    total = (len(methods) + 2) * steps * inner
    # Training alone: the follower's Adam on the weights, the decays fixed at the start.
    alone = _tuned_run(dynamics.FollowerGame(game, (lam0,), (0,)), follower, (w0,),
                       steps * inner, score=lambda p: _scores(game, (lam0, p[0])),
                       progress=progress, label="training alone")
    rows = {"training alone": _row("training alone", f"Adam {TRAIN_LR:g}, decay 1e-3 on every "
                                   f"weight, fixed", alone, {"log_decays": _lam_stats(lam0)})}
    rows["training alone"]["curve"]["training_steps"] = alone["curve"]["step"]
    done = steps * inner
    for name, (dyn, how) in methods.items():
        per = 1 if name == "hypernetwork" else inner
        run = _tuned_run(game, dyn, params, steps * inner // per, progress=progress,
                         label=name, done=done, per_step=per)
        run["curve"]["training_steps"] = [s * per for s in run["curve"]["step"]]
        rows[name] = _row(name, how, run, {"log_decays": _lam_stats(run["state"].params[0])})
        done += steps * inner
    budget = rows["neumann"]["seconds"]

    # Reference: one global decay by grid search from the same start, same wall time.
    flat = games.hyperparameter_optimization(model, data, regularizer="global")
    val = jax.jit(lambda lam, w: flat.losses((lam, w))[0])
    dt = data.x_train.dtype
    # compiled ahead, so the wall time spent is training only, as for the tuned runs
    grid_run = jax.jit(lambda lam: _train_from_scratch(
        model, data.x_train, data.y_train, params[1], lam, steps * inner)).lower(
            jnp.asarray(0.0, dt)).compile()
    points, spent = [], 0.0
    for lam in _coarse_to_fine(-12.0, 0.0, 63):
        t = time.perf_counter()
        w = grid_run(jnp.asarray(lam, dt))
        loss = float(val(jnp.asarray(lam, dt), w))
        spent += time.perf_counter() - t
        points.append({"log_decay": lam, "val_loss": loss if math.isfinite(loss) else None,
                       "scores": _scores(flat, (jnp.asarray(lam, dt), w))})
        if spent >= budget and len(points) >= 2:
            break
    progress(total, "grid search")
    ok = [p for p in points if p["val_loss"] is not None]
    best = min(ok, key=lambda p: p["val_loss"]) if ok else None
    reference = {"points": points, "seconds": spent, "best": best,
                 "how": f"global decay, {len(points)} values of [-12, 0] in coarse-to-fine "
                        f"order until the Neumann run's wall time was spent"}
    setup = {"data": "100 training, 200 validation examples",
             "model": "MLP 64-64-10, tanh",
             "regularizer": "per weight: 1/2 sum_j exp(lambda_j) w_j^2",
             "hyperparameters": rows["neumann"]["log_decays"]["count"],
             "warm_start": f"{WARM_START} Adam steps at decay 1e-3 before every run",
             "alpha": alpha, "lambda_max": lmax, "inner_steps": inner,
             "leader_lr": lr}
    summary = {"joint_cost_ratio": rows["neumann"]["seconds"] / rows["training alone"]["seconds"]}
    return setup, rows, {"reference": reference, **summary}, {}


# --------------------------------------------------------------------------- overfit


def _overfit(o, key, progress):
    steps, train_steps = o["steps"], o["train_steps"]
    data = games.load_digits(n_train=50, n_val=50, seed=o["seed"])
    model = nets.mlp((64, 10))
    game = games.hyperparameter_optimization(model, data, regularizer="per_weight")
    lam, w = game.init(key)
    # Start from weights trained at the initial decays, then tune the decays.
    w = _train_from_scratch(model, data.x_train, data.y_train, w, lam, train_steps,
                            regularizer="per_weight")
    progress(train_steps, "pre-training")
    inner = 10
    dyn = dynamics.stackelberg(o["leader_lr"], follower=_adam_follower(), inner_steps=inner,
                               method=dynamics.CG(10, 1e-10))
    run = _tuned_run(game, dyn, (lam, w), steps, progress=progress, label="tuning",
                     done=train_steps)
    curve = run["curve"]
    valid = [s for s in curve["scores"] if s["val_accuracy"] is not None]
    first = curve["scores"][0]
    hits = [st for st, s in zip(curve["step"], curve["scores"])
            if s["val_accuracy"] is not None and s["val_accuracy"] >= 1.0]
    rows = {"cg": _row("cg", f"stackelberg, CG(10) every {inner} Adam steps", run,
                       {"log_decays": _lam_stats(run["state"].params[0])})}
    summary = {
        "start": first, "final": run["final"],
        "val_accuracy_100_at": hits[0] if hits else None,
        "best_test_accuracy": max(s["test_accuracy"] for s in valid),
        "final_gap": (None if run["final"]["val_accuracy"] is None else
                      run["final"]["val_accuracy"] - run["final"]["test_accuracy"]),
        "start_gap": first["val_accuracy"] - first["test_accuracy"],
    }
    setup = {"data": "50 training, 50 validation examples", "model": "linear (64-10), softmax",
             "regularizer": "per weight: 1/2 sum_j exp(lambda_j) w_j^2",
             "hyperparameters": _lam_stats(lam)["count"],
             "weights": int(sum(x.size for x in jax.tree_util.tree_leaves(w))),
             "pre_training": f"{train_steps} Adam steps at decay 1e-3",
             "leader_lr": o["leader_lr"]}
    return setup, rows, summary, {}


# --------------------------------------------------------------------------- distill


def _distill(o, key, progress):
    steps, train_steps, seeds = o["steps"], o["train_steps"], o["seeds"]
    decay = 1e-3
    data = games.load_digits(seed=o["seed"])
    model = nets.mlp((64, 10))
    game = games.dataset_distillation(model, data, weight_decay=decay)
    k_init, k_eval = jax.random.split(key)
    images, w = game.init(k_init)
    labels = game.labels
    num_classes = data.num_classes

    def fresh(x, k):
        """Test accuracy of a network trained from scratch on the images x alone."""
        w_ = _train_from_scratch(model, x, labels, model.init(k),
                                 jnp.asarray(math.log(decay), x.dtype), train_steps)
        return game.accuracy((None, w_), "test")

    fresh = jax.jit(jax.vmap(fresh))
    w = _train_from_scratch(model, images, labels, w,
                            jnp.asarray(math.log(decay), images.dtype), train_steps)
    progress(train_steps, "pre-training")
    inner = 10
    dyn = dynamics.stackelberg(o["leader_lr"], follower=_adam_follower(), inner_steps=inner,
                               method=dynamics.CG(10, 1e-10))
    run = _tuned_run(game, dyn, (images, w), steps, progress=progress, label="distilling",
                     done=train_steps)
    learned = run["state"].params[0]

    # Fresh networks, one init per seed, on the learned images or on one random
    # real training image per class (drawn per seed).
    keys = jax.random.split(k_eval, seeds)
    y = np.asarray(data.y_train)
    rng = np.random.default_rng(o["seed"])
    real = np.stack([np.stack([np.asarray(data.x_train[rng.choice(np.flatnonzero(y == c))])
                               for c in range(num_classes)]) for _ in range(seeds)])
    inits = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
    acc_real = np.asarray(fresh(jnp.asarray(real, learned.dtype), inits))
    if _finite(learned):
        acc_learned = np.asarray(fresh(jnp.broadcast_to(learned, (seeds,) + learned.shape),
                                       inits))
        learned_stats = {"learned_test_accuracy": [float(a) for a in acc_learned],
                         "learned_mean": float(np.mean(acc_learned)),
                         "learned_std": float(np.std(acc_learned))}
    else:                       # diverged images: nothing to train on, no accuracy
        learned_stats = {"learned_test_accuracy": [None] * seeds, "learned_mean": None,
                         "learned_std": None}
    progress(train_steps + steps, "fresh networks")
    summary = {
        **learned_stats,
        "real_test_accuracy": [float(a) for a in acc_real],
        "real_mean": float(np.mean(acc_real)), "real_std": float(np.std(acc_real)),
        "learned_beats_real": (learned_stats["learned_mean"] is not None
                               and learned_stats["learned_mean"] > np.mean(acc_real)),
    }
    rows = {"cg": _row("cg", f"stackelberg, CG(10) every {inner} Adam steps", run)}
    setup = {"data": "1000 training (the leader's loss), 400 validation examples, test "
                     "the rest", "model": "linear (64-10), softmax",
             "images": f"1 per class, {learned.shape[0]} in all, standardised pixels",
             "follower_decay": decay, "fresh_training": f"{train_steps} Adam steps",
             "leader_lr": o["leader_lr"], "seeds": seeds}
    mean, std = np.asarray(data.mean, float), np.asarray(data.std, float)
    arrays = {"learned_images": np.asarray(learned, float) * std + mean,
              "real_images": real.astype(float) * std + mean}
    return setup, rows, summary, arrays


_RUNNERS = {"best-response": _best_response, "weight-decay": _weight_decay,
            "overfit": _overfit, "distill": _distill}

OPTIONS = ("steps", "train_steps", "grid", "fit_steps", "seeds", "leader_lr")


def options_for(task: str, **options) -> dict:
    """``DEFAULTS[task]`` with the given overrides (``None`` keeps the default),
    checked: unknown tasks or options a task does not use are a ``UsageError``."""
    if task not in DEFAULTS:
        raise UsageError(f"unknown task {task!r}; choose from {', '.join(TASKS)}.")
    o = dict(DEFAULTS[task])
    for name, value in options.items():
        if value is None:
            continue
        if name not in o or name not in OPTIONS:
            valid = [k for k in OPTIONS if k in o]
            raise UsageError(f"task {task!r} takes no option {name!r}; its options are "
                             f"{', '.join(valid)}.")
        o[name] = value
    for name in ("steps", "train_steps", "grid", "fit_steps", "seeds"):
        if name in o and (isinstance(o[name], bool) or not isinstance(o[name], int)
                          or o[name] < 1):
            raise UsageError(f"{name} must be a positive integer; got {o[name]!r}.")
    if "leader_lr" in o and not (isinstance(o["leader_lr"], (int, float))
                                 and math.isfinite(o["leader_lr"]) and o["leader_lr"] > 0):
        raise UsageError(f"leader_lr must be a positive number; got {o['leader_lr']!r}.")
    if task == "best-response" and o["grid"] < 2:
        raise UsageError(f"grid must be at least 2 cross-validation points; got {o['grid']}.")
    if task == "weight-decay" and o["train_steps"] < o["steps"]:
        raise UsageError(f"weight-decay runs train_steps / steps training steps per leader "
                         f"step; train_steps ({o['train_steps']}) must be at least steps "
                         f"({o['steps']}).")
    return o


def compute(task: str = "best-response", *, seed: int = 0, progress=None,
            **options) -> dict:
    """Run one task; returns the results (what results.json holds, arrays under
    ``"arrays"``).

    Args:
      task: one of ``TASKS``.
      seed: seed of the data split and every initialisation.
      options: overrides of ``DEFAULTS[task]`` among ``steps`` (leader steps, or
        joint hypernetwork steps for best-response), ``train_steps`` (Adam steps
        of a network trained from scratch; for weight-decay the training steps
        of every tuned run), ``grid`` (cross-validation points), ``fit_steps``
        (global hypernetwork), ``seeds`` (distill), ``leader_lr``.  Options a
        task does not use are an error.
      progress: ``fn(done, label)`` with ``done`` out of ``total_units(task, ...)``.
    """
    o = options_for(task, **options)
    o["seed"] = seed
    progress = progress or (lambda done, label: None)
    t0 = time.perf_counter()
    setup, rows, summary, arrays = _RUNNERS[task](o, jax.random.key(seed), progress)
    return {"command": "ho", "task": task, "complete": True,
            "options": {**o, "task": task}, "environment": _io.environment(),
            "setup": setup, "rows": rows, "summary": summary,
            "elapsed_s": time.perf_counter() - t0, "arrays": arrays}


def total_units(task: str, **options) -> int:
    """The progress units ``compute`` reports for ``task`` (for a progress bar)."""
    o = options_for(task, **options)
    if task == "best-response":
        return o["grid"] * o["train_steps"] + o["fit_steps"] + o["steps"]
    if task == "weight-decay":
        return 6 * o["train_steps"] // o["steps"] * o["steps"]
    return o["train_steps"] + o["steps"]


# --------------------------------------------------------------------------- report


def _fmt(x, spec=".4f"):
    return "-" if x is None else format(x, spec)


def format_table(results: dict) -> str:
    task, rows, s = results["task"], results["rows"], results["summary"]
    lines = [f"== ho {task}: " + ", ".join(f"{v}" for k, v in results["setup"].items()
                                          if k in ("data", "model")) + " =="]
    if task == "best-response":
        head = f"{'method':<20}{'argmin log decay':>18}{'val loss':>10}{'seconds':>9}   how"
        lines += [head, "-" * len(head)]
        for name, r in rows.items():
            lines.append(f"{name:<20}{r['argmin']:>18.2f}{r['val_loss']:>10.4f}"
                         f"{r['seconds']:>9.1f}   {r['how']}")
        j = rows["joint hypernetwork"]
        lines.append(f"joint hypernetwork at lambda_hat = {j['argmin']:.2f}: predicted val "
                     f"loss {j['val_loss']:.4f}, weights trained there {j['trained_val_loss']:.4f} "
                     f"(relative gap {s['tracking_relative_gap']:.1%})")
        return "\n".join(lines)
    head = (f"{'method':<16}{'val loss':>10}{'test loss':>10}{'val acc':>9}{'test acc':>9}"
            f"{'seconds':>9}{'x alone':>9}   how")
    lines += [head, "-" * len(head)]
    base = rows.get("training alone", {}).get("seconds")
    for name, r in rows.items():
        f = r["final"]
        ratio = "-" if not base else f"{r['seconds'] / base:.2f}"
        div = "" if r["diverged_by"] is None else f" (diverged by step {r['diverged_by']})"
        lines.append(f"{name:<16}{_fmt(f['val_loss']):>10}{_fmt(f['test_loss']):>10}"
                     f"{_fmt(f['val_accuracy'], '.3f'):>9}{_fmt(f['test_accuracy'], '.3f'):>9}"
                     f"{r['seconds']:>9.1f}{ratio:>9}   {r['how']}{div}")
    if task == "weight-decay":
        ref = s["reference"]
        b = ref["best"]
        if b is not None:
            lines.append(f"{'grid search':<16}{_fmt(b['val_loss']):>10}"
                         f"{_fmt(b['scores']['test_loss']):>10}"
                         f"{_fmt(b['scores']['val_accuracy'], '.3f'):>9}"
                         f"{_fmt(b['scores']['test_accuracy'], '.3f'):>9}{ref['seconds']:>9.1f}"
                         f"{'-':>9}   best log decay {b['log_decay']:.2f}; {ref['how']}")
        lines.append(f"Neumann tuning costs {s['joint_cost_ratio']:.2f}x training alone "
                     f"(wall time).")
    elif task == "overfit":
        st, fi = s["start"], s["final"]
        lines.append(f"validation accuracy {st['val_accuracy']:.3f} -> "
                     f"{_fmt(fi['val_accuracy'], '.3f')} (100% from leader step "
                     f"{s['val_accuracy_100_at']}); test accuracy {st['test_accuracy']:.3f} -> "
                     f"{_fmt(fi['test_accuracy'], '.3f')} (best {s['best_test_accuracy']:.3f}); "
                     f"gap {s['start_gap']:.3f} -> {_fmt(s['final_gap'], '.3f')}")
    elif task == "distill":
        lines.append(f"fresh networks, {results['setup']['seeds']} seeds, test accuracy: "
                     + (f"learned images {s['learned_mean']:.3f} ± {s['learned_std']:.3f}, "
                        if s["learned_mean"] is not None else "learned images none (diverged), ")
                     + f"random real images {s['real_mean']:.3f} ± {s['real_std']:.3f}")
    return "\n".join(lines)


def _plot(results: dict, out: Path) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    task, rows, a, s = results["task"], results["rows"], results["arrays"], results["summary"]
    written = []
    if task == "best-response":
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(a["cv_log_decay"], a["cv_val_loss"], "x", c="k", label="cross-validation")
        ax.plot(a["global_log_decay"], a["global_val_loss"], c="tab:blue",
                label="global hypernetwork")
        ax.plot(a["joint_log_decay"], a["joint_val_loss"], c="tab:red", lw=2,
                label="joint hypernetwork (local)")
        for name, c in (("cross-validation", "k"), ("global hypernetwork", "tab:blue"),
                        ("joint hypernetwork", "tab:red")):
            ax.axvline(rows[name]["argmin"], c=c, ls=":", lw=1)
        ax.set(xlabel="log weight decay", ylabel="validation loss",
               title="best response: validation loss against the decay")
        ax.legend(fontsize=8)
        fig.tight_layout()
        _io.write_png(out / "best_response.png", fig)
        written.append("best_response.png")
    elif task in ("weight-decay", "overfit"):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for name, r in rows.items():
            c = r["curve"]
            x = c["seconds"] if task == "weight-decay" else c["step"]
            for ax, key in zip(axes, ("val", "test") if task == "weight-decay" else
                               ("loss", "accuracy")):
                if task == "weight-decay":
                    y = [np.nan if v[f"{key}_loss"] is None else v[f"{key}_loss"]
                         for v in c["scores"]]
                    ax.plot(x, y, label=name)
                else:
                    for split, ls in (("train", ":"), ("val", "-"), ("test", "--")):
                        y = [np.nan if v[f"{split}_{key}"] is None else v[f"{split}_{key}"]
                             for v in c["scores"]]
                        ax.plot(x, y, ls=ls, label=split)
        if task == "weight-decay":
            b = s["reference"]["best"]
            for ax, key in zip(axes, ("val", "test")):
                if b is not None:
                    ax.axhline(b["val_loss"] if key == "val" else b["scores"]["test_loss"],
                               c="k", ls="--", lw=1, label="grid search, one decay")
                ax.set(xlabel="wall time (s)", ylabel=f"{key} loss", yscale="log",
                       title=f"{key} loss")
            axes[0].legend(fontsize=7)
            name = "weight_decay.png"
        else:
            axes[0].set(xlabel="leader step", ylabel="loss", yscale="log",
                        title="losses while the decays are tuned")
            axes[1].set(xlabel="leader step", ylabel="accuracy",
                        title="validation fitted, test behind")
            axes[1].legend(fontsize=8)
            name = "overfit.png"
        fig.tight_layout()
        _io.write_png(out / name, fig)
        written.append(name)
    elif task == "distill":
        learned, real = a["learned_images"], a["real_images"][0]
        n = learned.shape[0]
        fig, axes = plt.subplots(2, n, figsize=(1.1 * n, 2.6), squeeze=False)
        for k in range(n):
            for row, img in ((0, learned[k]), (1, real[k])):
                axes[row, k].imshow(img.reshape(8, 8), cmap="gray_r")
                axes[row, k].set_xticks([])
                axes[row, k].set_yticks([])
            axes[0, k].set_title(str(k % 10), fontsize=8)
        axes[0, 0].set_ylabel(f"learned\n{s['learned_mean']:.2f}", fontsize=7)
        axes[1, 0].set_ylabel(f"real\n{s['real_mean']:.2f}", fontsize=7)
        fig.suptitle("distilled images (top) and random real ones (bottom), with the mean "
                     "test accuracy of fresh networks trained on them", fontsize=8)
        fig.tight_layout()
        _io.write_png(out / "distilled.png", fig)
        written.append("distilled.png")
    plt.close("all")
    return written


def report(results: dict, out, *, plots: bool = True, echo=print) -> list[str]:
    """Print the table; write results.json, arrays.npz (if any) and the PNG."""
    out = Path(out)
    echo(format_table(results))
    written = _plot(results, out) if plots else []
    _io.write_json(out / "results.json", {k: v for k, v in results.items() if k != "arrays"})
    if results["arrays"]:
        _io.write_npz(out / "arrays.npz", **results["arrays"])
        written.append("arrays.npz")
    return ["results.json"] + written


def run(task: str = "best-response", *, out=None, plots: bool = True, echo=print,
        **kwargs) -> dict:
    """compute + report into ``out`` (default ``runs/ho-<task>``; replaced only once
    the run has finished)."""
    with output_folder(out or f"runs/ho-{task}") as tmp:
        results = compute(task, **kwargs)
        report(results, tmp, plots=plots, echo=echo)
    return results


HELP = "hyperparameter optimisation and dataset distillation on the digits"
DESCRIPTION = (__doc__.split("\n\n")[1] + "\n\nTasks:\n"
               + __doc__.split("\n\n")[2]).replace("``", "")


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of ``gamedyn ho``."""
    def per_task(name):
        return "; ".join(f"{t} {d[name]:g}" for t, d in DEFAULTS.items() if name in d)
    parser.add_argument("--task", default="best-response", choices=TASKS,
                        help="what to run (default best-response)")
    parser.add_argument("--steps", type=int_in(1, 10**6),
                        help=f"leader steps (joint hypernetwork steps for best-response); "
                        f"default {per_task('steps')}")
    parser.add_argument("--train-steps", type=int_in(1, 10**6),
                        help=f"Adam steps of each network trained from scratch (weight-decay: "
                        f"training steps of each tuned run); default {per_task('train_steps')}")
    parser.add_argument("--grid", type=int_in(2, 1000),
                        help=f"best-response: cross-validation points (default "
                        f"{DEFAULTS['best-response']['grid']})")
    parser.add_argument("--fit-steps", type=int_in(1, 10**6),
                        help=f"best-response: Adam steps of the global hypernetwork "
                        f"(default {DEFAULTS['best-response']['fit_steps']})")
    parser.add_argument("--seeds", type=int_in(1, 1000),
                        help=f"distill: fresh networks per kind of images (default "
                        f"{DEFAULTS['distill']['seeds']})")
    parser.add_argument("--leader-lr", type=float_in(0, 1e6, low_open=True),
                        help=f"step of the decays or images along the hypergradient; "
                        f"default {per_task('leader_lr')}")
    parser.add_argument("--seed", type=int_in(0, SEED_MAX), default=0,
                        help="seed of the data split and initialisations (default 0)")
    parser.add_argument("--out", help="output folder (default runs/ho-TASK)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG")
    return parser


def main(args: argparse.Namespace) -> int:
    """Run ``gamedyn ho`` from parsed arguments."""
    options = {k: getattr(args, k) for k in OPTIONS if getattr(args, k) is not None}
    out = args.out or f"runs/ho-{args.task}"
    options_for(args.task, **options)        # bad options exit 2 before --out is touched
    with output_folder(out) as tmp:
        with progress_bar(total_units(args.task, **options), f"ho {args.task}",
                          unit="step") as bar:
            results = compute(args.task, seed=args.seed,
                              progress=lambda done, label: bar.to(done, label), **options)
        written = report(results, tmp, plots=not args.no_plots)
    print(f"wrote {', '.join(written)} under {out}/")
    return 0
