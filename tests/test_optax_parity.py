"""Gradient dynamics against optax, step for step.

The references are per-player optax loops written here, fed with gradients
computed here by ``jax.grad`` of each player's own loss (the simultaneous
gradient), or, for alternating updates, at the tuple that already holds the
earlier players' new parameters.  None of them goes through ``dynamics``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import dynamics
import games

T = 8


def _one_loss(p):
    (w,) = p
    return jnp.sum((w["a"] - 1.0) ** 2 * (1.0 + 0.5 * jnp.sin(w["b"]))) + jnp.sum(w["b"] ** 2)


ONE_PLAYER = games.from_losses(_one_loss, init=({"a": jnp.zeros(3), "b": jnp.zeros(())},))

_M = np.array([[0.9, -0.4], [0.3, 1.1]])


def _loss_x(p, m):
    x, y = p
    return 0.5 * jnp.sum(x**2) + x @ m @ jnp.tanh(y)


def _loss_y(p, m):
    x, y = p
    return 0.15 * jnp.sum(y**2) - jnp.tanh(x) @ m @ y + 0.1 * jnp.sum(y**3)


TWO_PLAYER = games.from_losses(_loss_x, _loss_y, init=(jnp.zeros(2), jnp.zeros(2)),
                               data=jnp.asarray(_M))


def _own_grad(game, params, i):
    """dL_i/dtheta_i by jax.grad of game.losses (independent of dynamics)."""
    def f(theta_i):
        return game.losses(tuple(theta_i if j == i else p for j, p in enumerate(params)))[i]
    return jax.grad(f)(params[i])


def _reference(game, make_opt, params, steps, alternating=False):
    """Params after 0..steps steps of a per-player optax loop (list of tuples)."""
    opts = [make_opt() for _ in params]
    states = [o.init(p) for o, p in zip(opts, params)]

    @jax.jit
    def step(params, states):
        params, states = list(params), list(states)
        grads = [_own_grad(game, tuple(params), i) for i in range(len(params))]
        for i, opt in enumerate(opts):
            g = _own_grad(game, tuple(params), i) if alternating else grads[i]
            upd, states[i] = opt.update(g, states[i], params[i])
            params[i] = optax.apply_updates(params[i], upd)
        return tuple(params), tuple(states)

    out, states = [params], tuple(states)
    for _ in range(steps):
        params, states = step(params, states)
        out.append(params)
    return out


def _assert_trajectory(traj, ref):
    for t, want in enumerate(ref):
        got = jax.tree_util.tree_map(lambda x: x[t], traj.params)
        for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"step {t}")


def _run(game, dyn, params):
    return dynamics.simulate(game, dyn, params, T, metrics=())


def test_one_player_simgd_is_optax_sgd():
    p0 = ONE_PLAYER.init(jax.random.key(0))
    lr = 0.05
    _assert_trajectory(_run(ONE_PLAYER, dynamics.simgd(lr), p0),
                       _reference(ONE_PLAYER, lambda: optax.sgd(lr), p0, T))


@pytest.mark.parametrize("lr", [0.05, 0.2])
def test_optimistic_is_optax_optimistic_gradient_descent(lr):
    p0 = TWO_PLAYER.init(jax.random.key(1))
    _assert_trajectory(_run(TWO_PLAYER, dynamics.optimistic(lr), p0),
                       _reference(TWO_PLAYER, lambda: optax.optimistic_gradient_descent(lr),
                                  p0, T))


def test_two_player_simgd_is_per_player_sgd():
    p0 = TWO_PLAYER.init(jax.random.key(2))
    _assert_trajectory(_run(TWO_PLAYER, dynamics.simgd(0.1), p0),
                       _reference(TWO_PLAYER, lambda: optax.sgd(0.1), p0, T))


@pytest.mark.parametrize("beta", [0.7, -0.5])
def test_momentum_is_optax_heavy_ball(beta):
    # mu <- beta mu - xi; omega <- omega + lr mu  equals optax's trace
    # t <- xi + beta t; omega <- omega - lr t  (mu = -t).
    p0 = TWO_PLAYER.init(jax.random.key(3))
    _assert_trajectory(_run(TWO_PLAYER, dynamics.momentum(0.1, beta), p0),
                       _reference(TWO_PLAYER, lambda: optax.sgd(0.1, momentum=beta), p0, T))


def test_alternating_is_per_player_sgd_in_turn():
    p0 = TWO_PLAYER.init(jax.random.key(4))
    _assert_trajectory(_run(TWO_PLAYER, dynamics.alternating(0.2), p0),
                       _reference(TWO_PLAYER, lambda: optax.sgd(0.2), p0, T, alternating=True))


@pytest.mark.parametrize("alternating", [False, True])
def test_from_optax_adam_is_per_player_adam(alternating):
    p0 = TWO_PLAYER.init(jax.random.key(5))
    opt = optax.adam(0.05)
    ref = _reference(TWO_PLAYER, lambda: opt, p0, T, alternating=alternating)
    _assert_trajectory(_run(TWO_PLAYER, dynamics.from_optax(opt, alternating=alternating), p0),
                       ref)
    # the factory form with traced hyperparameters gives the same run
    factory = dynamics.from_optax(optax.adam, learning_rate=0.05, alternating=alternating)
    _assert_trajectory(_run(TWO_PLAYER, factory, p0), ref)


def test_from_optax_factory_keeps_non_float_hyperparameters_static():
    p0 = TWO_PLAYER.init(jax.random.key(6))
    dyn = dynamics.from_optax(optax.sgd, learning_rate=0.1, momentum=0.5, nesterov=True)
    assert set(dyn.step.args[0]) == {"learning_rate", "momentum"}     # the traced leaves
    _assert_trajectory(
        _run(TWO_PLAYER, dyn, p0),
        _reference(TWO_PLAYER, lambda: optax.sgd(0.1, momentum=0.5, nesterov=True), p0, T))


def test_from_optax_rejects_bad_input():
    with pytest.raises(TypeError, match="GradientTransformation"):
        dynamics.from_optax(0.1)
    with pytest.raises(TypeError, match="factory"):
        dynamics.from_optax(optax.adam(0.1), learning_rate=0.1)
