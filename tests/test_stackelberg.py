"""Stackelberg dynamics: hyperparameter optimisation as a leader/follower game (x64).

The game: player 0 holds per-weight log decays lam, player 1 ridge weights w;
L_0 = validation loss, L_1 = training loss + 1/2 sum e^lam w^2.  Its best
response w*(lam) is closed-form, so the leader's progress is measured exactly.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynamics
import games

RNG = np.random.default_rng(0)
X, Y = RNG.normal(size=(30, 4)), RNG.normal(size=30)
XV, YV = RNG.normal(size=(20, 4)), RNG.normal(size=20)


def val_loss(p):
    return 0.5 * jnp.sum((XV @ p[1] - YV) ** 2)


def train_loss(p):
    lam, w = p
    return 0.5 * jnp.sum((X @ w - Y) ** 2) + 0.5 * jnp.sum(jnp.exp(lam) * w**2)


GAME = games.from_losses(val_loss, train_loss, init=(jnp.zeros(4), jnp.zeros(4)))
LAM0 = jnp.full(4, 1.0)


def best_response(lam):
    lam = np.asarray(lam)
    return np.linalg.solve(X.T @ X + np.diag(np.exp(lam)), X.T @ Y)


def best_response_loss(lam):
    return 0.5 * np.sum((XV @ best_response(lam) - YV) ** 2)


START = (LAM0, jnp.zeros(4))


def analytic_hypergradient(lam):
    lam = np.asarray(lam)
    H = X.T @ X + np.diag(np.exp(lam))
    w = np.linalg.solve(H, X.T @ Y)
    u = np.linalg.solve(H, XV.T @ (XV @ w - YV))
    return -u * np.exp(lam) * w


def test_simgd_cannot_move_the_hyperparameters_but_stackelberg_does():
    # dL_0/dlam = 0: simultaneous GD leaves lam exactly where it was.
    traj = dynamics.simulate(GAME, dynamics.simgd(0.01), START, 50, metrics=())
    np.testing.assert_array_equal(traj.final.params[0], LAM0)
    # With followers converged (50 steps at rate ~0.69), the leader does gradient
    # descent on the best-response loss L_V(w*(lam)): compare with NumPy GD on the
    # closed-form hypergradient.
    lr, steps = 0.05, 30
    lr_w = 1.0 / np.max(np.linalg.eigvalsh(X.T @ X + np.e * np.eye(4)))
    lam, path = np.asarray(LAM0), [np.asarray(LAM0)]
    for _ in range(steps):
        lam = lam - lr * analytic_hypergradient(lam)
        path.append(lam)
    losses = [best_response_loss(p) for p in path]
    assert all(b < a for a, b in zip(losses, losses[1:])) and losses[-1] < losses[0] - 1
    for method in (dynamics.Exact(), dynamics.CG(iters=8),
                   dynamics.Neumann(alpha=lr_w, terms=60)):
        dyn = dynamics.stackelberg(lr, follower=dynamics.simgd(lr_w), inner_steps=50,
                                   method=method)
        got = dynamics.simulate(GAME, dyn, START, steps, metrics=()).params[0]
        np.testing.assert_allclose(got, np.stack(path), rtol=1e-5, atol=1e-7,
                                   err_msg=type(method).__name__)


def test_one_leader_step_is_the_closed_form_hypergradient_with_followers_in_a_game():
    # Followers y, z play a linear-quadratic game among themselves (non-symmetric
    # Jacobian M = [[a, b], [e, d]]): xi_y = a y + b z + c x, xi_z = d z + e y + f x,
    # so w*(x) = -M^-1 (c, f) x.  Leader: L_0 = 1/2 x^2 + 1/2 (y - 1)^2 + 1/2 (z + 1)^2.
    a, b, c, d, e, f = 2.0, 1.5, 0.7, 1.8, -0.9, -0.4
    M = np.array([[a, b], [e, d]])
    game = games.from_losses(
        lambda p: 0.5 * p[0][0] ** 2 + 0.5 * (p[1][0] - 1) ** 2 + 0.5 * (p[2][0] + 1) ** 2,
        lambda p: 0.5 * a * p[1][0] ** 2 + p[1][0] * (b * p[2][0] + c * p[0][0]),
        lambda p: 0.5 * d * p[2][0] ** 2 + p[2][0] * (e * p[1][0] + f * p[0][0]),
        init=(jnp.zeros(1),) * 3)
    x0 = 0.8
    wstar = -np.linalg.solve(M, np.array([c, f])) * x0
    dw = -np.linalg.solve(M, np.array([c, f]))                  # dw*/dx
    true = x0 + dw @ (wstar - np.array([1.0, -1.0]))
    start = (jnp.array([x0]), jnp.array([wstar[0]]), jnp.array([wstar[1]]))
    for method in (dynamics.Exact(), dynamics.GMRES(iters=2)):
        dyn = dynamics.stackelberg(0.1, follower=dynamics.simgd(0.1), inner_steps=1,
                                   method=method)
        state = dyn.step(game, dyn.init(start))
        np.testing.assert_allclose(state.params[0], x0 - 0.1 * true, rtol=1e-10)
        np.testing.assert_allclose([state.params[1][0], state.params[2][0]], wstar,
                                   rtol=1e-10)   # w* is a fixed point of the followers
    # CG would answer wrongly here (non-symmetric M) and nothing in a run would show it
    dyn = dynamics.stackelberg(0.1, follower=dynamics.simgd(0.1), method=dynamics.CG(5))
    with pytest.raises(ValueError, match=r"CG needs a symmetric.*players \[1, 2\].*GMRES"):
        dynamics.simulate(game, dyn, start, 2)


def _step_map_jacobian_by_differences(game, dyn, params, h=1e-6):
    state = dyn.step(game, dyn.init(params))._replace(params=params)
    x0, rebuild = dynamics.realify(state)
    f = jax.jit(lambda x: dynamics.realify(dyn.step(game, rebuild(x)))[0])
    cols = []
    for k in range(x0.size):
        e = jnp.zeros_like(x0).at[k].set(h)
        cols.append((f(x0 + e) - f(x0 - e)) / (2 * h))
    return np.stack(cols, axis=1)


def test_linearize_agrees_with_finite_differences_of_the_step_map():
    lr_w = 0.02
    dyn = dynamics.stackelberg(0.05, follower=dynamics.momentum(lr_w, 0.5), inner_steps=3,
                               method=dynamics.CG(iters=6))
    params = (LAM0, jnp.asarray(best_response(LAM0)) + 0.01)
    got = np.asarray(dynamics.linearize(GAME, dyn, params))
    want = _step_map_jacobian_by_differences(GAME, dyn, params)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_bad_configurations_are_clear_errors():
    follower = dynamics.simgd(0.1)
    with pytest.raises(TypeError, match="follower must be a dynamics.Dynamics"):
        dynamics.stackelberg(0.1, follower="simgd", method=dynamics.Exact())
    with pytest.raises(ValueError, match="inner_steps must be an int >= 1; got 0"):
        dynamics.stackelberg(0.1, follower=follower, inner_steps=0, method=dynamics.Exact())
    with pytest.raises(TypeError, match="method must be one of"):
        dynamics.stackelberg(0.1, follower=follower, method="exact")
    with pytest.raises(ValueError, match="leader_lr must be positive"):
        dynamics.stackelberg(0.0, follower=follower, method=dynamics.Exact())
    with pytest.raises(ValueError, match="distinct non-negative player indices"):
        dynamics.stackelberg(0.1, follower=follower, method=dynamics.Exact(), leaders=(0, 0))
    out_of_range = dynamics.stackelberg(0.1, follower=follower, method=dynamics.Exact(),
                                        leaders=(2,))
    with pytest.raises(ValueError, match=r"leaders \[2\] include \[2\], out of range for a "
                                         r"game with 2 players"):
        dynamics.simulate(GAME, out_of_range, START, 2)
    everyone = dynamics.stackelberg(0.1, follower=follower, method=dynamics.Exact(),
                                    leaders=(0, 1))
    with pytest.raises(ValueError, match="every player of this 2-player game is a leader"):
        dynamics.simulate(GAME, everyone, START, 2)
