"""Hypernetworks (nets) and hypernetwork best-response dynamics (x64).

A ridge problem with one global log decay lambda has the closed-form best
response w*(lambda) = (X^T X + e^lambda I)^-1 X^T y, the oracle throughout.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import dynamics
import games
import nets

RNG = np.random.default_rng(0)
X, Y = RNG.normal(size=(30, 4)), RNG.normal(size=30)
XV, YV = RNG.normal(size=(20, 4)), RNG.normal(size=20) + 0.5


def val_loss(p):
    return 0.5 * jnp.mean((XV @ p[1] - YV) ** 2)


def train_loss(p):
    lam, w = p
    return 0.5 * jnp.mean((X @ w - Y) ** 2) + 0.5 * jnp.exp(lam) * jnp.sum(w**2)


GAME = games.from_losses(val_loss, train_loss, init=(jnp.zeros(()), jnp.zeros(4)))


def best_response(lam):
    n = X.shape[0]
    return np.linalg.solve(X.T @ X / n + np.exp(lam) * np.eye(4), X.T @ Y / n)


def best_response_loss(lam):
    return 0.5 * np.mean((XV @ best_response(lam) - YV) ** 2)


# ------------------------------------------------------------------ nets

def test_hypernets_start_at_the_weights_and_compute_their_maps():
    w0 = {"a": jnp.arange(3.0), "b": jnp.asarray(5.0)}
    lam = {"x": jnp.array([0.5, -1.0])}
    for net in (nets.linear_hypernet(w0, lam), nets.factorized_hypernet(w0, lam, 2),
                nets.mlp_hypernet(w0, lam, hidden=(3,))):
        phi = net.init(jax.random.key(0), w0)
        out = net.apply(phi, lam)
        assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(w0)
        np.testing.assert_array_equal(out["a"], w0["a"])
        np.testing.assert_array_equal(out["b"], w0["b"])
    # linear: w = b + W lam on the raveled pytrees (a, then b)
    net = nets.linear_hypernet(w0, lam)
    W = RNG.normal(size=(4, 2))
    phi = {"b": jnp.array([1.0, 2, 3, 4]), "W": jnp.asarray(W)}
    flat = np.array([1.0, 2, 3, 4]) + W @ np.array([0.5, -1.0])
    out = net.apply(phi, lam)
    np.testing.assert_allclose(np.append(out["a"], out["b"]), flat, rtol=1e-14)
    # centred: w = b + W (lam - c)
    c = {"x": jnp.array([2.0, 3.0])}
    phi = {**net.init(jax.random.key(0), w0, c), "W": jnp.asarray(W)}
    out = net.apply(phi, lam)
    np.testing.assert_allclose(np.append(out["a"], out["b"]),
                               np.array([0.0, 1, 2, 5]) + W @ np.array([-1.5, -4.0]), rtol=1e-14)
    # equal structure -> equal (hashable) functions: no recompilation as a static field
    assert nets.linear_hypernet(w0, lam) == net and hash(nets.linear_hypernet(w0, lam))


def test_hypernet_bad_input():
    net = nets.linear_hypernet(jnp.zeros(3), jnp.zeros(2))
    with pytest.raises(ValueError, match=r"weights has structure .* but this hypernetwork "
                                         r"was built for"):
        net.init(jax.random.key(0), jnp.zeros(4))
    phi = net.init(jax.random.key(0), jnp.zeros(3))
    with pytest.raises(ValueError, match="lam has structure"):
        net.apply(phi, jnp.zeros(5))
    with pytest.raises(ValueError, match="bottleneck must be a positive int; got 0"):
        nets.factorized_hypernet(jnp.zeros(3), jnp.zeros(2), bottleneck=0)
    with pytest.raises(ValueError, match="hidden must be a sequence of positive ints"):
        nets.mlp_hypernet(jnp.zeros(3), jnp.zeros(2), hidden=(0,))
    with pytest.raises(TypeError, match="real floating-point"):
        nets.linear_hypernet(jnp.zeros(3, jnp.int32), jnp.zeros(2))


# ------------------------------------------------------------------ dynamics

def test_joint_hypernetwork_tracks_the_best_response():
    dyn = dynamics.hypernetwork(nets.linear_hypernet, leader_lr=0.05, net_lr=0.1, sigma=0.3,
                                samples=8, key=jax.random.key(0))
    start = (jnp.asarray(0.0), jnp.asarray(best_response(0.0)))
    traj = dynamics.simulate(GAME, dyn, start, 1000, every=100, metrics=("losses",))
    lam = np.asarray(traj.params[0])
    # The leader moved downhill on the best-response loss (it decreases in lambda
    # here) ...
    assert lam[-1] > 1.0 and best_response_loss(lam[-1]) < best_response_loss(0.0) - 0.03
    # ... and at every record the hypernetwork's predicted validation loss at
    # lambda_hat is within 2% of the loss of weights trained to convergence there
    # (closed form).
    predicted = np.asarray(traj.metrics["losses"][:, 0])
    np.testing.assert_allclose(predicted, [best_response_loss(x) for x in lam], rtol=2e-2)


def test_linearize_agrees_with_finite_differences_of_the_step_map():
    dyn = dynamics.hypernetwork(nets.factorized_hypernet, leader_lr=0.1, net_lr=0.2,
                                sigma=0.3, key=jax.random.key(1))
    params = (jnp.asarray(0.5), jnp.asarray(best_response(0.5)))
    state = dyn.step(GAME, dyn.init(params))
    x0, rebuild = dynamics.realify(state)
    f = jax.jit(lambda x: dynamics.realify(dyn.step(GAME, rebuild(x)))[0])
    h = 1e-6
    fd = np.stack([(f(x0.at[k].add(h)) - f(x0.at[k].add(-h))) / (2 * h)
                   for k in range(x0.size)], axis=1)
    got = np.asarray(dynamics.linearize(GAME, dyn, params, state=state))
    np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-7)


def test_global_best_response_matches_cross_validation():
    net = nets.mlp_hypernet(jnp.zeros(4), jnp.zeros(()), hidden=(50,), activation="tanh")
    phi = net.init(jax.random.key(0), jnp.asarray(best_response(0.0)))
    phi, losses = dynamics.fit_best_response(GAME, net, phi, mean=0.0, std=1.5, steps=4000,
                                             samples=8, key=jax.random.key(2),
                                             optimizer=optax.adam(3e-3))
    assert losses[-200:].mean() < losses[:200].mean()
    for lam in (-1.5, 0.0, 1.5):
        predicted = float(val_loss((jnp.asarray(lam), net.apply(phi, jnp.asarray(lam)))))
        assert predicted == pytest.approx(best_response_loss(lam), rel=2e-2), lam


def test_bad_configurations_are_clear_errors():
    key = jax.random.key(0)
    with pytest.raises(TypeError, match="hypernet must have init"):
        dynamics.hypernetwork("linear", leader_lr=0.1, net_lr=0.1, sigma=0.1, key=key)
    with pytest.raises(ValueError, match="samples must be an int >= 1; got 0"):
        dynamics.hypernetwork(nets.linear_hypernet, leader_lr=0.1, net_lr=0.1, sigma=0.1,
                              samples=0, key=key)
    with pytest.raises(ValueError, match="sigma must be positive"):
        dynamics.hypernetwork(nets.linear_hypernet, leader_lr=0.1, net_lr=0.1, sigma=0.0,
                              key=key)
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        dynamics.hypernetwork(nets.linear_hypernet, leader_lr=0.1, net_lr=0.1, sigma=0.1,
                              key=0)
    # a hypernetwork built for other weights than the follower's
    wrong = nets.linear_hypernet(jnp.zeros(3), jnp.zeros(()))
    dyn = dynamics.hypernetwork(wrong, leader_lr=0.1, net_lr=0.1, sigma=0.1, key=key)
    with pytest.raises(ValueError, match=r"weights has structure .*float64\[4\].* built for "
                                         r".*float64\[3\]"):
        dynamics.simulate(GAME, dyn, (jnp.asarray(0.0), jnp.zeros(4)), 2)
    three = games.from_losses(*(lambda p: jnp.sum(p[0] ** 2),) * 3, init=(jnp.zeros(1),) * 3)
    dyn = dynamics.hypernetwork(nets.linear_hypernet, leader_lr=0.1, net_lr=0.1, sigma=0.1,
                                key=key)
    with pytest.raises(ValueError, match="need a 2-player leader/follower game"):
        dynamics.simulate(three, dyn, (jnp.zeros(1),) * 3, 2)


def test_fit_best_response_checks_its_shapes_and_takes_pytree_lambda():
    # lambda a pytree with leaves of different shapes, as per-weight decays are
    lam0 = (jnp.zeros(2), jnp.zeros(()))
    game = games.from_losses(
        lambda p: jnp.sum(p[1] ** 2),
        lambda p: jnp.sum((p[1] - 1.0) ** 2) + jnp.sum(jnp.exp(p[0][0]) * p[1][:2] ** 2)
        + jnp.exp(p[0][1]) * p[1][2] ** 2, init=(lam0, jnp.zeros(3)))
    net = nets.linear_hypernet(jnp.zeros(3), lam0)
    phi = net.init(jax.random.key(0), jnp.zeros(3), center=lam0)      # keyword form
    fit = lambda **kw: dynamics.fit_best_response(game, kw.pop("net", net), kw.pop("phi", phi),
                                                  steps=3, key=jax.random.key(1), **kw)
    phi2, losses = fit(mean=lam0, std=(jnp.ones(2), jnp.asarray(0.5)))
    assert losses.shape == (3,) and np.all(np.isfinite(losses))
    with pytest.raises(ValueError, match=r"mean must be a scalar or shaped like lambda"):
        fit(mean=[0.0], std=1.0)
    with pytest.raises(ValueError, match="std must be non-negative"):
        fit(mean=0.0, std=-1.0)
    with pytest.raises(TypeError, match="optimizer must be an optax.GradientTransformation"):
        fit(mean=0.0, std=1.0, optimizer="adam")
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        dynamics.fit_best_response(game, net, phi, mean=0.0, std=1.0, steps=3, key=0)
    other = nets.linear_hypernet(jnp.zeros(5), lam0)
    with pytest.raises(ValueError, match=r"outputs \[5\] but the follower's weights .* \[3\]"):
        fit(net=other, phi=other.init(jax.random.key(0), jnp.zeros(5)), mean=0.0, std=1.0)
    with pytest.raises(ValueError, match=r"phi does not belong to this hypernetwork.*\(5,\)"):
        net.apply(other.init(jax.random.key(0), jnp.zeros(5)), lam0)
