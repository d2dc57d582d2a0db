"""Hyperparameters, starts and games are data: ``jax.vmap`` over each equals a loop.

Also: in a sweep where some settings diverge, the run does not crash and
``Trajectory.diverged_at`` marks exactly those, per batch element.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import dynamics
import games

T = 12
A = np.array([[1.0, 0.5], [-0.3, 0.8]])
BILINEAR = games.bilinear(A)
P0 = BILINEAR.init(jax.random.key(0))
LOSSES = ("losses",)    # default metrics add the distance (a pinv per record): slower to compile


def _close(got, want, rtol=1e-10, atol=1e-12):
    for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def _row(tree, k):
    return jax.tree_util.tree_map(lambda x: x[k], tree)


def test_vmap_over_step_sizes():
    lrs = jnp.array([0.05, 0.1, 0.2, 0.4])
    batched = jax.vmap(lambda lr: dynamics.simulate(
        BILINEAR, dynamics.simgd(lr), P0, T, metrics=LOSSES).final.params)(lrs)
    for k, lr in enumerate(lrs.tolist()):
        _close(_row(batched, k),
               dynamics.simulate(BILINEAR, dynamics.simgd(lr), P0, T, metrics=LOSSES).final.params)


def test_vmap_over_momentum_grid():
    # the convergence-heatmap pattern: a grid of (lr, beta), beta negative too
    lr, beta = (x.ravel() for x in jnp.meshgrid(jnp.array([0.05, 0.2]),
                                                 jnp.array([-0.5, 0.0, 0.6])))
    run = lambda a, b: dynamics.simulate(BILINEAR, dynamics.momentum(a, b), P0, T, metrics=LOSSES)
    batched = jax.vmap(run)(lr, beta)
    for k in range(lr.size):
        want = run(float(lr[k]), float(beta[k]))
        _close(_row(batched.final, k), want.final)
        _close(_row(batched.metrics, k), want.metrics)


def test_vmap_over_optax_factory_hyperparameters():
    lrs = jnp.array([0.01, 0.1])
    run = lambda lr: dynamics.simulate(
        BILINEAR, dynamics.from_optax(optax.adam, learning_rate=lr), P0, T, metrics=LOSSES).final
    batched = jax.vmap(run)(lrs)
    for k, lr in enumerate(lrs.tolist()):
        want = dynamics.simulate(BILINEAR, dynamics.from_optax(optax.adam(lr)), P0, T,
                                 metrics=LOSSES).final
        _close(_row(batched, k), want)


def test_vmap_over_starts():
    starts = jax.vmap(BILINEAR.init)(jax.random.split(jax.random.key(1), 4))
    dyn = dynamics.extragradient(0.3)
    batched = jax.vmap(lambda p: dynamics.simulate(BILINEAR, dyn, p, T, metrics=LOSSES))(starts)
    for k in range(4):
        want = dynamics.simulate(BILINEAR, dyn, _row(starts, k), T, metrics=LOSSES)
        _close(_row(batched.params, k), want.params)
        _close(_row(batched.metrics, k), want.metrics)


def test_vmap_over_a_batch_of_games():
    gms = jnp.linspace(0.0, 1.0, 5)
    p = games.adversarial(0.5).init(jax.random.key(2))
    dyn = dynamics.simgd(0.1)
    batched = jax.vmap(lambda gm: dynamics.simulate(games.adversarial(gm), dyn, p, T))(gms)
    for k, gm in enumerate(gms.tolist()):
        want = dynamics.simulate(games.adversarial(gm), dyn, p, T)
        _close(_row(batched.params, k), want.params)
        _close(_row(batched.metrics, k), want.metrics)


def test_vmap_over_bilinear_payoff_matrices():
    As = jnp.stack([A, 2 * A, A.T, -A])
    dyn = dynamics.alternating(0.2)
    batched = jax.vmap(lambda m: dynamics.simulate(games.bilinear(m), dyn, P0, T))(As)
    for k in range(len(As)):
        want = dynamics.simulate(games.bilinear(As[k]), dyn, P0, T)
        _close(_row(batched.final, k), want.final)
        _close(_row(batched.metrics, k), want.metrics, atol=1e-10)   # distance uses pinv


# ---------------------------------------------------------------------------
# Divergence is reported per batch element.

XY = games.bilinear([[1.0]])
DIVERGE_T = 300


def _numpy_first_nonfinite(lr, x, y, steps):
    """simGD on L = xy in numpy: x' = x - lr y, y' = y + lr x.  First step whose
    state is not finite, or -1."""
    for t in range(1, steps + 1):
        with np.errstate(over="ignore", invalid="ignore"):
            x, y = x - lr * y, y + lr * x
        if not (np.isfinite(x) and np.isfinite(y)):
            return t
    return -1


def test_diverged_at_marks_exactly_the_diverging_settings():
    lrs = np.array([0.1, 0.5, 30.0, 0.3, 1000.0])
    x0, y0 = 1.0, -0.5
    p = (jnp.array([x0]), jnp.array([y0]))
    traj = jax.vmap(lambda lr: dynamics.simulate(XY, dynamics.simgd(lr), p, DIVERGE_T,
                                                 metrics=()))(jnp.asarray(lrs))
    got = np.asarray(traj.diverged_at)
    want = np.array([_numpy_first_nonfinite(lr, x0, y0, DIVERGE_T) for lr in lrs])
    # |z_t| = (1 + lr^2)^(t/2) |z_0|: lr = 0.5 stays below 1e15, lr = 30 overflows
    # near t = 2 * 709.8 / log(901) ~ 209, lr = 1000 near t ~ 103.
    assert list(want >= 0) == [False, False, True, False, True]
    assert got.shape == lrs.shape
    np.testing.assert_array_equal(got < 0, want < 0)
    # the overflow step itself may move by one if XLA fuses x - lr * y into an FMA
    assert np.all(np.abs(got - want) <= 1), (got, want)
    flat = np.concatenate([np.asarray(x) for x in traj.params], axis=-1)   # (5, T+1, 2)
    finite = np.all(np.isfinite(flat), axis=-1)
    for k, d in enumerate(got):
        if d < 0:
            assert finite[k].all()
            _close(flat[k, -1], np.concatenate(dynamics.simulate(
                XY, dynamics.simgd(float(lrs[k])), p, DIVERGE_T, metrics=()).final.params))
        else:   # finite up to step d - 1, non-finite from step d on (simGD's state is params)
            assert finite[k, :d].all() and not finite[k, d:].any()


@pytest.mark.parametrize("every", [1, 7])
def test_diverged_at_is_a_step_index_whatever_the_recording_interval(every):
    # recording every 7 steps must not change which step is reported
    p = (jnp.array([1.0]), jnp.array([-0.5]))
    traj = dynamics.simulate(XY, dynamics.simgd(1000.0), p, 210, every=every, metrics=())
    want = _numpy_first_nonfinite(1000.0, 1.0, -0.5, 210)
    assert abs(int(traj.diverged_at) - want) <= 1


def test_vmap_spectral_radius_over_step_sizes():
    # a rate heatmap row in one call: simGD on L = xy has rho = sqrt(1 + lr^2)
    lrs = jnp.array([0.1, 0.5, 1.0, 2.0])
    rho = jax.vmap(lambda lr: dynamics.spectral_radius(XY, dynamics.simgd(lr),
                                                       XY.equilibrium()))(lrs)
    np.testing.assert_allclose(rho, np.sqrt(1 + np.asarray(lrs) ** 2), rtol=1e-12)
