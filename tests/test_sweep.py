"""dynamics.sweep: the generic grid sweep, its closed forms, its sharding over
devices and processes, and gamedyn sweep.

Oracles: the closed-form spectral radii of momentum, extragradient and
optimistic GD on L = xy (PAPERS.md's formulas, written out here in NumPy), a
Python loop of ``spectral_radius``/``simulate`` per point, and a one-process,
one-device run of the same sweep.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynamics
import games

ROOT = Path(__file__).resolve().parents[1]
XY = games.bilinear(jnp.eye(1))


# ------------------------------------------------------------------ closed forms

def _radius_momentum(lr, beta):
    # x_{t+1} = x_t - lr y_t + beta (x_t - x_{t-1}), y symmetric: per eigenvalue +-i
    # of J the characteristic polynomial z^2 - (1 + beta - lr * (+-i)) z + beta.
    out = []
    for s in (1j, -1j):
        out += list(np.abs(np.roots([1.0, -(1 + beta - lr * s), beta])))
    return max(out)


def _radius_extragradient(lr):
    # one step: I - lr J + lr^2 J^2 with J's eigenvalues +-i
    return abs(1 - lr * 1j + (lr * 1j) ** 2)


def _radius_optimistic(lr):
    # z^2 - (1 - 2 lr lambda) z - lr lambda = 0 for lambda = +-i
    return max(max(np.abs(np.roots([1.0, -(1 - 2 * lr * s), -lr * s]))) for s in (1j, -1j))


def test_momentum_extragradient_optimistic_rates_on_xy_match_closed_forms():
    lrs, betas = np.linspace(0.05, 0.9, 7), np.linspace(-0.8, 0.8, 9)
    res = dynamics.sweep(XY, dynamics.momentum, {"lr": lrs, "beta": betas})
    assert res.values["spectral_radius"].shape == (7, 9) and res.shape == (7, 9)
    want = np.array([[_radius_momentum(a, b) for b in betas] for a in lrs])
    np.testing.assert_allclose(res.values["spectral_radius"], want, rtol=0, atol=1e-10)
    for factory, closed in [(dynamics.extragradient, _radius_extragradient),
                            (dynamics.optimistic, _radius_optimistic)]:
        res = dynamics.sweep(XY, factory, {"lr": lrs})
        np.testing.assert_allclose(res.values["spectral_radius"],
                                   [closed(a) for a in lrs], rtol=0, atol=1e-10)
    np.testing.assert_array_equal(res.axes["lr"], lrs)


def test_complex_momentum_heatmaps_are_thin_uses_of_the_sweep():
    game = games.dirac_gan(0.0)
    lrs, mags, args = np.array([0.3, 0.5]), np.linspace(0, 0.95, 5), np.linspace(0, np.pi, 4)
    got = dynamics.spectral_radius_grid(game, lrs, mags, args)
    jit_radius = jax.jit(dynamics.spectral_radius)
    want = np.array([[[jit_radius(game, dynamics.complex_momentum(
        a, m * np.exp(1j * t)), game.equilibrium()) for t in args] for m in mags]
        for a in lrs])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)
    start = (jnp.asarray(0.1), jnp.asarray(-0.05))
    steps = dynamics.steps_to_tolerance_grid(game, start, lrs[:1], mags, args, steps=300,
                                             tol=1e-3)
    for j, m in enumerate(mags):
        for k, t in enumerate(args):
            traj = dynamics.simulate(game, dynamics.complex_momentum(0.3, m * np.exp(1j * t)),
                                     start, 300, metrics=("distance",))
            hit = np.flatnonzero(np.asarray(traj.metrics["distance"]) <= 1e-3)
            assert steps[0, j, k] == (hit[0] if hit.size else np.inf), (m, t)


def test_steps_final_starts_games_and_divergence():
    start = (jnp.array([0.3]), jnp.array([-0.2]))
    lrs = np.array([0.1, 0.4, 5.0])                   # 5.0: spirals out, overflows
    res = dynamics.sweep(XY, dynamics.extragradient, {"lr": lrs},
                         measure=("steps", "final"), params=start, steps=400, tol=1e-4)
    for i, lr in enumerate(lrs):
        traj = dynamics.simulate(XY, dynamics.extragradient(lr), start, 400,
                                 metrics=("distance", "losses"))
        d = np.asarray(traj.metrics["distance"])
        hit = np.flatnonzero(d <= 1e-4)
        assert res.values["steps"][i] == (hit[0] if hit.size else np.inf)
        # the sweep records no metric: its divergence is the state's (the losses
        # metric, x * y, overflows sooner)
        state_only = dynamics.simulate(XY, dynamics.extragradient(lr), start, 400,
                                       metrics=())
        assert res.values["diverged_at"][i] == int(state_only.diverged_at)
        if int(traj.diverged_at) < 0:
            np.testing.assert_allclose(res.values["final_distance"][i], d[-1], rtol=1e-12)
            np.testing.assert_allclose(res.values["final_losses"][i],
                                       traj.metrics["losses"][-1], rtol=1e-12, atol=1e-300)
    assert res.values["diverged_at"][2] > 0 and res.values["steps"][2] == np.inf
    # best: finite values only, smallest first (lr 0.1 is too slow for 400 steps)
    assert [r["lr"] for r in res.best("steps", 3)] == [0.4]
    assert [r["lr"] for r in res.best("final_distance", 3)] == [0.4, 0.1]
    # a zipped grid over stacked starts and a stacked family of games
    starts = jax.tree_util.tree_map(lambda *x: jnp.stack(x), start,
                                    (jnp.array([1.0]), jnp.array([1.0])))
    gammas = jnp.array([0.0, 0.5])
    fam = jax.vmap(lambda g: games.adversarial(g))(gammas)
    res = dynamics.sweep(games.adversarial(0.0), dynamics.simgd,
                         {"lr": [0.05, 0.1], "game": fam}, measure="rate")
    for i, lr in enumerate([0.05, 0.1]):
        for j, g in enumerate(np.asarray(gammas)):
            want = dynamics.spectral_radius(games.adversarial(float(g)), dynamics.simgd(lr),
                                            games.adversarial(float(g)).equilibrium())
            np.testing.assert_allclose(res.values["spectral_radius"][i, j], want, atol=1e-12)
    res = dynamics.sweep(XY, dynamics.simgd, {"lr": [0.1, 0.2], "start": starts},
                         measure="final", params=None, steps=10, product=False)
    assert res.shape == (2,) and res.values["final_losses"].shape == (2, 2)
    for i, lr in enumerate([0.1, 0.2]):
        p = jax.tree_util.tree_map(lambda x: x[i], starts)
        traj = dynamics.simulate(XY, dynamics.simgd(lr), p, 10)
        np.testing.assert_allclose(res.values["final_losses"][i], traj.metrics["losses"][-1],
                                   rtol=1e-12, atol=1e-15)


def test_bad_input():
    with pytest.raises(ValueError, match=r"unknown hyperparameter 'bta'.*valid: lr, beta"):
        dynamics.sweep(XY, dynamics.momentum, {"lr": [0.1], "bta": [0.5]})
    with pytest.raises(ValueError, match="non-empty 1-D"):
        dynamics.sweep(XY, dynamics.momentum, {"lr": []})
    with pytest.raises(ValueError, match="non-finite values at positions \\[1\\]"):
        dynamics.sweep(XY, dynamics.simgd, {"lr": [0.1, np.nan]})
    with pytest.raises(ValueError, match="non-empty dict"):
        dynamics.sweep(XY, dynamics.simgd, {})
    with pytest.raises(ValueError, match="measure must be one of rate, steps, final"):
        dynamics.sweep(XY, dynamics.simgd, {"lr": [0.1]}, measure="speed")
    with pytest.raises(ValueError, match="pass params="):
        dynamics.sweep(XY, dynamics.simgd, {"lr": [0.1]}, measure="steps")
    with pytest.raises(ValueError, match="equal lengths"):
        dynamics.sweep(XY, dynamics.momentum, {"lr": [0.1, 0.2], "beta": [0.1]},
                       product=False)
    import dynamics._sweep as impl
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(impl, "memory_budget", lambda: 1 << 16)
        with pytest.raises(ValueError, match=r"pass chunks=\d+ or more"):
            dynamics.sweep(XY, dynamics.simgd, {"lr": np.linspace(0.01, 1, 4096)}, chunks=1)
        # without chunks= the sweep splits itself and gives the same numbers
        small = dynamics.sweep(XY, dynamics.simgd, {"lr": np.linspace(0.01, 1, 64)})
    np.testing.assert_array_equal(small.values["spectral_radius"], dynamics.sweep(
        XY, dynamics.simgd, {"lr": np.linspace(0.01, 1, 64)}).values["spectral_radius"])
