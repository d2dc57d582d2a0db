"""Hypernetwork best responses for leader/follower games (thesis chapter 2).

A hypernetwork w_phi(lambda) (``nets.linear_hypernet`` and friends) learns the
follower's best response w*(lambda); the leader then descends its loss through
it, L_0(lambda, w_phi(lambda)), which sees how the follower would respond.
"""

from __future__ import annotations

import functools
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from dynamics._base import Dynamics, zero_count
from games.checks import check_key, check_positive, is_concrete

__all__ = ["hypernetwork", "HypernetworkState", "fit_best_response"]


class HypernetworkState(NamedTuple):
    params: tuple       # (lambda_hat, w_phi(lambda_hat))
    phi: Any            # the hypernetwork's parameters
    key: jax.Array      # PRNG key of the lambda samples
    count: jax.Array    # int32 scalar


def _two_players(game):
    if game.num_players != 2:
        raise ValueError(f"hypernetwork best responses need a 2-player leader/follower game "
                         f"(player 0 the leader's lambda, player 1 the follower's weights); "
                         f"got {type(game).__name__} with {game.num_players} players.")


def _perturb(key, lam, sigma, samples):
    """``samples`` draws of lam + sigma * N(0, I), leafwise, with a leading sample axis."""
    leaves, treedef = jax.tree_util.tree_flatten(lam)
    keys = jax.random.split(key, len(leaves))
    noisy = [x + sigma * jax.random.normal(k, (samples,) + jnp.shape(x), jnp.result_type(x))
             for k, x in zip(keys, leaves)]
    return jax.tree_util.tree_unflatten(treedef, noisy)


def _resolve(hypernet, params):
    """A built hypernetwork, or one built from the game's shapes by a factory such as
    ``nets.linear_hypernet`` (called as ``factory(weights, hyper)``)."""
    if hasattr(hypernet, "init") and hasattr(hypernet, "apply"):
        return hypernet
    return hypernet(params[1], params[0])


def _init(hypernet, hp, params):
    params = jax.tree_util.tree_map(jnp.asarray, tuple(params))
    hypernet = _resolve(hypernet, params)
    key, sub = jax.random.split(hp["key"])
    phi = hypernet.init(sub, params[1], params[0])
    lam = params[0]
    return HypernetworkState((lam, hypernet.apply(phi, lam)), phi, key, zero_count())


def _step(hypernet, samples, hp, game, state):
    _two_players(game)
    hypernet = _resolve(hypernet, state.params)
    lam_hat = state.params[0]
    key, sub = jax.random.split(state.key)
    lams = _perturb(sub, lam_hat, hp["sigma"], samples)

    def follower_loss(phi, lam):
        return game.losses((lam, hypernet.apply(phi, lam)))[1]

    g_phi = _fixed_center(jax.vmap(jax.grad(follower_loss), in_axes=(None, 0))(state.phi, lams))
    phi = jax.tree_util.tree_map(
        lambda p, g: (p - hp["net_lr"] * jnp.mean(g, axis=0)).astype(p.dtype), state.phi,
        g_phi)

    def leader_loss(lam):
        return game.losses((lam, hypernet.apply(phi, lam)))[0]

    g_lam = jax.grad(leader_loss)(lam_hat)
    lam_hat = jax.tree_util.tree_map(lambda p, g: (p - hp["leader_lr"] * g).astype(p.dtype),
                                     lam_hat, g_lam)
    return HypernetworkState((lam_hat, hypernet.apply(phi, lam_hat)), phi, key,
                             state.count + 1)


def _fixed_center(grads):
    """The hypernetwork's input offset (``phi["center"]``) is not trained."""
    if isinstance(grads, dict) and "center" in grads:
        return {**grads, "center": jnp.zeros_like(grads["center"])}
    return grads


@functools.lru_cache(maxsize=None)
def _bound(fn, *static):
    # One object per static configuration: rebuilding with new traced values
    # (learning rates, sigma, key) does not recompile.
    return functools.partial(fn, *static)


def _shapes(tree):
    return str(jax.tree_util.tree_map(lambda x: list(jnp.shape(x)), tree))


def _check_samples(samples):
    if isinstance(samples, bool) or not isinstance(samples, numbers.Integral) or samples < 1:
        raise ValueError(f"samples must be an int >= 1; got {samples!r}.")
    return int(samples)


def _check_hypernet(hypernet, factory_ok=False):
    if hasattr(hypernet, "init") and hasattr(hypernet, "apply"):
        return
    if factory_ok and callable(hypernet):
        return
    raise TypeError("hypernet must have init(key, weights) and apply(phi, lam), as "
                    "nets.linear_hypernet(w, lam) returns"
                    + (", or be such a factory (e.g. nets.linear_hypernet)" if factory_ok
                       else "") + f"; got {type(hypernet).__name__}.")


def hypernetwork(hypernet, *, leader_lr, net_lr, sigma, samples: int = 2, key) -> Dynamics:
    """Joint hypernetwork best-response dynamics (Algorithm 3 of the thesis, local).

    For a 2-player game with the leader's hyperparameters lambda (player 0) and
    the follower's weights w (player 1), the state holds the hypernetwork's
    parameters phi and lambda_hat.  Each step:

    1. draw ``samples`` lambda_s ~ N(lambda_hat, sigma^2 I) and update
       phi <- phi - net_lr mean_s d/dphi L_1(lambda_s, w_phi(lambda_s))
       (the hypernetwork learns the best response around lambda_hat);
    2. lambda_hat <- lambda_hat - leader_lr d/dlambda L_0(lambda, w_phi(lambda))
       at lambda_hat (the leader's total derivative through the response).

    ``state.params`` is (lambda_hat, w_phi(lambda_hat)), so metrics and
    distances work as for any dynamics.  ``init(params)`` starts the
    hypernetwork at the given weights and centres it at the starting lambda
    (``hypernet.init(key, params[1], params[0])``): it sees lambda - lambda_0,
    so its regression is conditioned by the size of the moves and perturbations
    rather than of lambda itself; a stable ``net_lr`` still shrinks roughly like
    1 / (1 + |lambda_hat - lambda_0|^2 + sigma^2 d_lambda) for a linear
    hypernetwork.  ``leader_lr`` should be small next to ``net_lr`` (two time
    scales) so the response is learnt before the leader relies on it.

    Randomness (documented so runs can be reproduced elsewhere): ``init``
    splits ``key`` into (the carried key, the hypernetwork's init key); each step
    splits the carried key into (the next carried key, a sample key) and draws
    lambda's leaves with ``split(sample key, number of leaves)``, leaf k as
    ``normal(keys[k], (samples, *leaf.shape))``.

    Args:
      hypernet: ``nets.linear_hypernet(w, lam)``, ``factorized_hypernet`` or
        ``mlp_hypernet``, built for the follower's weights and the leader's
        hyperparameters (their structures must match the game's; a mismatch is a
        clear error), or such a factory itself (``nets.linear_hypernet``,
        ``functools.partial(nets.factorized_hypernet, bottleneck=4)``), which is
        then built from the parameters' shapes.
      leader_lr, net_lr: step sizes of lambda_hat and phi (> 0).
      sigma: standard deviation of the lambda samples (> 0): the neighbourhood
        the local best response is learnt on.
      samples: lambda draws per step (the thesis uses 2).

    >>> import jax, jax.numpy as jnp, games, dynamics, nets
    >>> val = lambda p: 0.5 * (p[1][0] - 1.0) ** 2             # leader wants w = 1
    >>> train = lambda p: 0.5 * (p[1][0] - p[0][0]) ** 2       # follower: w* = lam
    >>> g = games.from_losses(val, train, init=(jnp.zeros(1), jnp.zeros(1)))
    >>> net = nets.linear_hypernet(jnp.zeros(1), jnp.zeros(1))
    >>> dyn = dynamics.hypernetwork(net, leader_lr=0.5, net_lr=0.5, sigma=0.5,
    ...                             key=jax.random.key(0))
    >>> lam = dynamics.simulate(g, dyn, (jnp.zeros(1), jnp.zeros(1)), 300).final.params[0]
    >>> round(float(lam[0]), 2)
    1.0

    References:
      Lorraine & Duvenaud (2018), "Stochastic Hyperparameter Optimization through
      Hypernetworks", arXiv:1802.09419.  MacKay, Vicol, Lorraine, Duvenaud &
      Grosse (2019), "Self-Tuning Networks", ICLR.  Lorraine (2024), "Scalable
      Nested Optimization for Deep Learning", PhD thesis, University of Toronto.
    """
    _check_hypernet(hypernet, factory_ok=True)
    samples = _check_samples(samples)
    check_key(key)
    hp = dict(leader_lr=check_positive("leader_lr", leader_lr),
              net_lr=check_positive("net_lr", net_lr), sigma=check_positive("sigma", sigma),
              key=key)
    return Dynamics(jax.tree_util.Partial(_bound(_init, hypernet), hp),
                    jax.tree_util.Partial(_bound(_step, hypernet, samples), hp))


@functools.partial(jax.jit, static_argnames=("hypernet", "optimizer", "steps", "samples"))
def _fit(game, hypernet, phi, mean, std, key, optimizer, steps, samples):
    stochastic = callable(getattr(game, "resample", None))

    def body(carry, _):
        phi, opt_state, key = carry
        key, k_lam, k_batch = jax.random.split(key, 3)
        g_ = game.resample(k_batch) if stochastic else game
        lams = jax.tree_util.tree_map(
            lambda m, s, z: m + s * z, mean, std,
            _perturb(k_lam, jax.tree_util.tree_map(jnp.zeros_like, mean), 1.0, samples))

        def loss(phi):
            return jnp.mean(jax.vmap(lambda lam: g_.losses(
                (lam, hypernet.apply(phi, lam)))[1])(lams))
        value, grads = jax.value_and_grad(loss)(phi)
        grads = _fixed_center(grads)
        updates, opt_state = optimizer.update(grads, opt_state, phi)
        return (optax.apply_updates(phi, updates), opt_state, key), value

    (phi, _, _), curve = jax.lax.scan(body, (phi, optimizer.init(phi), key), None,
                                      length=steps)
    return phi, curve


def fit_best_response(game, hypernet, phi, *, mean, std, steps: int, key, samples: int = 2,
                      optimizer=None):
    """A global best response (Algorithm 2 of the thesis): train phi to minimise
    E_{lambda ~ N(mean, std^2)} L_1(lambda, w_phi(lambda)) over a fixed
    distribution of the leader's lambda, for a 2-player leader/follower game.

    Then the leader's best-response loss is L_0(lambda, w_phi(lambda)) for any
    lambda in the distribution's support, without retraining: minimise it, or
    plot it against cross-validation.  Runs ``steps`` steps of ``optimizer``
    (default ``optax.adam(1e-3)``) with ``samples`` lambda draws each, as one
    compiled scan; a stochastic game (``resample(key)``) gets a fresh minibatch
    per step.  ``mean`` and ``std`` are pytrees shaped like lambda (or scalars
    broadcast to it).  Returns ``(phi, losses)``, losses the sample-mean follower
    loss per step.

    >>> import jax, jax.numpy as jnp, games, dynamics, nets
    >>> val = lambda p: 0.5 * (p[1][0] - 1.0) ** 2
    >>> train = lambda p: 0.5 * (p[1][0] - 2.0 * p[0][0]) ** 2   # w*(lam) = 2 lam
    >>> g = games.from_losses(val, train, init=(jnp.zeros(1), jnp.zeros(1)))
    >>> net = nets.linear_hypernet(jnp.zeros(1), jnp.zeros(1))
    >>> phi = net.init(jax.random.key(0), jnp.zeros(1))
    >>> phi, losses = dynamics.fit_best_response(g, net, phi, mean=0.0, std=1.0, steps=1000,
    ...                                          key=jax.random.key(1),
    ...                                          optimizer=__import__("optax").adam(1e-2))
    >>> round(float(net.apply(phi, jnp.array([0.5]))[0]), 2)      # w*(0.5) = 1
    1.0

    References:
      Lorraine & Duvenaud (2018), "Stochastic Hyperparameter Optimization through
      Hypernetworks", arXiv:1802.09419.
    """
    _two_players(game)
    _check_hypernet(hypernet)
    samples = _check_samples(samples)
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"steps must be an int >= 1; got {steps!r}.")
    lam_like, w_like = jax.eval_shape(game.init, jax.random.key(0))

    def as_tree(name, v):
        if not isinstance(v, (dict, list, tuple)) and jnp.ndim(v) == 0:
            return jax.tree_util.tree_map(
                lambda t: jnp.broadcast_to(jnp.asarray(v, t.dtype), t.shape), lam_like)
        if (jax.tree_util.tree_structure(v) != jax.tree_util.tree_structure(lam_like)
                or [jnp.shape(x) for x in jax.tree_util.tree_leaves(v)]
                != [x.shape for x in jax.tree_util.tree_leaves(lam_like)]):
            raise ValueError(f"{name} must be a scalar or shaped like lambda (player 0's "
                             f"parameters, {_shapes(lam_like)}); got {_shapes(v)}.")
        return jax.tree_util.tree_map(jnp.asarray, v)

    mean, std = as_tree("mean", mean), as_tree("std", std)
    if any(is_concrete(x) and bool(jnp.any(x < 0)) for x in jax.tree_util.tree_leaves(std)):
        raise ValueError("std must be non-negative (a standard deviation per "
                         "hyperparameter).")
    out = jax.eval_shape(hypernet.apply, phi, lam_like)
    if (jax.tree_util.tree_structure(out) != jax.tree_util.tree_structure(w_like)
            or [x.shape for x in jax.tree_util.tree_leaves(out)]
            != [x.shape for x in jax.tree_util.tree_leaves(w_like)]):
        raise ValueError(f"the hypernetwork outputs {_shapes(out)} but the follower's "
                         f"weights (player 1) are {_shapes(w_like)}; build it from the "
                         f"game's weights (e.g. nets.linear_hypernet(game.init(key)[1], "
                         f"lam)).")
    check_key(key)
    optimizer = optax.adam(1e-3) if optimizer is None else optimizer
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(f"optimizer must be an optax.GradientTransformation (e.g. "
                        f"optax.adam(1e-3)); got {type(optimizer).__name__}.")
    return _fit(game, hypernet, phi, mean, std, key, optimizer, int(steps), samples)
