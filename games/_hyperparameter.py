"""Hyperparameter optimisation as a two-player (leader/follower) game, on the digits.

Player 0 holds hyperparameters lambda (log weight decays) and minimises the
validation loss of the weights; player 1 holds the weights w of a classifier
f(w, x) (10 logits per 64-pixel image) and minimises the regularised training
loss.  With CE(w; S) = 1/|S| sum_{(x, y) in S} [logsumexp_k f(w, x)_k - f(w, x)_y]
the mean softmax cross-entropy on a set S of examples:

    L_0(lambda, w) = CE(w; validation)
    L_1(lambda, w) = CE(w; training) + R(lambda, w)

    R(lambda, w) = 1/2 sum_j exp(lambda_j) w_j^2      ("per_weight": one log decay per weight)
    R(lambda, w) = 1/2 exp(lambda) sum_j w_j^2        ("global": one log decay)

L_0 does not depend on lambda directly: dL_0/dlambda = 0, so simultaneous
gradient descent never moves the hyperparameters.  They move through the
follower's best response w*(lambda): dynamics.stackelberg descends the
hypergradient dL_0(lambda, w*(lambda))/dlambda, obtained by the implicit function
theorem from dL_1/dw = 0.

References:
  Bengio (2000), "Gradient-Based Optimization of Hyperparameters", Neural
  Computation.
  Lorraine, Vicol & Duvenaud (2020), "Optimizing Millions of Hyperparameters by
  Implicit Differentiation", AISTATS.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

from games._base import Game, register_game
from games._digits import (ClassifierFollower, Digits, check_batch_size, check_data, check_key,
                           check_model, cross_entropy, draw_batch, first_batch, logits)

__all__ = ["hyperparameter_optimization", "HyperparameterOptimization",
           "MinibatchHyperparameterOptimization", "REGULARIZERS"]

REGULARIZERS = ("per_weight", "global")
INIT_LOG_DECAY = math.log(1e-3)


def _penalty(regularizer: str, lam, w):
    squares = [jnp.sum(p ** 2) for p in jax.tree_util.tree_leaves(w)]
    if regularizer == "global":
        return 0.5 * jnp.exp(lam) * sum(squares)
    terms = jax.tree_util.tree_map(lambda l, p: jnp.sum(jnp.exp(l) * p ** 2), lam, w)
    return 0.5 * sum(jax.tree_util.tree_leaves(terms))


@register_game
class HyperparameterOptimization(ClassifierFollower, Game):
    """Hyperparameters (player 0) against weights (player 1) on the full digits splits.

    Fields: ``data``, a :class:`games.Digits` (arrays are leaves); ``model``
    (static), an ``(init, apply)`` pair such as ``nets.mlp`` returns;
    ``regularizer`` (static), ``"per_weight"`` or ``"global"``.  Deterministic
    (no ``resample``); :class:`MinibatchHyperparameterOptimization` is the
    minibatch version.
    """

    data: Digits
    model: Any              # static: (init, apply), e.g. nets.mlp((64, 32, 10))
    regularizer: str        # static
    num_players = 2
    _static = ("model", "regularizer")

    def _train_batch(self):
        return self.data.x_train, self.data.y_train

    def _val_batch(self):
        return self.data.x_val, self.data.y_val

    def penalty(self, lam, w):
        """R(lambda, w): the weight decay the follower pays (module docstring)."""
        return _penalty(self.regularizer, lam, w)

    def losses(self, params):
        """[validation CE, training CE + R(lambda, w)] (module docstring)."""
        lam, w = params
        xv, yv = self._val_batch()
        xt, yt = self._train_batch()
        val = cross_entropy(logits(self.model, w, xv), yv)
        train = cross_entropy(logits(self.model, w, xt), yt) + self.penalty(lam, w)
        return jnp.stack([val, train])

    def init(self, key):
        """(lambda = log(1e-3) everywhere, model.init(key))."""
        w = self.model.init(key)
        if self.regularizer == "global":
            dt = jnp.result_type(*jax.tree_util.tree_leaves(w))
            lam = jnp.full((), INIT_LOG_DECAY, dt)
        else:
            lam = jax.tree_util.tree_map(lambda p: jnp.full(p.shape, INIT_LOG_DECAY, p.dtype), w)
        return (lam, w)


@register_game
class MinibatchHyperparameterOptimization(HyperparameterOptimization):
    """:class:`HyperparameterOptimization` on minibatches, with ``resample(key)``.

    Extra fields: ``x_batch`` (B, 64), ``y_batch`` (B,), the current training
    minibatch, and ``x_val_batch``, ``y_val_batch``, the current validation
    minibatch of the same size B.  Losses use the minibatches; ``accuracy`` and
    ``evaluate`` use the full splits.
    """

    x_batch: jax.Array
    y_batch: jax.Array
    x_val_batch: jax.Array
    y_val_batch: jax.Array

    @property
    def batch_size(self) -> int:
        return self.x_batch.shape[-2]

    def _train_batch(self):
        return self.x_batch, self.y_batch

    def _val_batch(self):
        return self.x_val_batch, self.y_val_batch

    def resample(self, key) -> MinibatchHyperparameterOptimization:
        """The same game with fresh minibatches, drawn without replacement from each split."""
        kt, kv = jax.random.split(key)
        xt, yt = draw_batch(kt, self.data.x_train, self.data.y_train, self.batch_size)
        xv, yv = draw_batch(kv, self.data.x_val, self.data.y_val, self.batch_size)
        return dataclasses.replace(self, x_batch=xt, y_batch=yt, x_val_batch=xv,
                                   y_val_batch=yv)


def hyperparameter_optimization(model, data: Digits, *, regularizer: str = "per_weight",
                                batch_size: int | None = None,
                                key=None) -> HyperparameterOptimization:
    """Tune weight decays on validation data: hyperparameters lead, weights follow.

    Player 0 holds lambda, player 1 the weights w of the classifier ``model``;
    with CE(w; S) the mean softmax cross-entropy of ``model.apply(w, x)`` (10
    logits) against the labels y over the examples (x, y) of S::

        L_0(lambda, w) = CE(w; validation)
        L_1(lambda, w) = CE(w; training) + R(lambda, w)
        R = 1/2 sum_j exp(lambda_j) w_j^2     (regularizer="per_weight")
        R = 1/2 exp(lambda) sum_j w_j^2       (regularizer="global")

    lambda is a log weight decay, so the decay exp(lambda) stays positive.  The
    direct gradient dL_0/dlambda is zero: simultaneous gradient descent never
    moves lambda; ``dynamics.stackelberg`` (lambda leads, w follows) does, with the
    implicit-function-theorem hypergradient.  There is no closed-form
    equilibrium (``equilibrium()`` is None).

    Args:
      model: ``(init, apply)`` mapping one image (64,) to (num_classes,) logits,
        e.g. ``nets.mlp((64, 32, 10))``; hashable (a static field).  ``apply``
        sees one example at a time (the game vmaps it).
      data: a :class:`games.Digits`, e.g. ``games.load_digits()``.
      regularizer: ``"per_weight"`` or ``"global"`` (``REGULARIZERS``).
      batch_size: ``None`` (default): losses on the full training and validation
        splits, a deterministic :class:`HyperparameterOptimization`.  An int B:
        a :class:`MinibatchHyperparameterOptimization` holding a training and a
        validation minibatch of B examples each, with ``resample(key)``, so
        ``dynamics.simulate(game, dyn, params, steps, key=key)`` draws fresh
        minibatches every step.  B may not exceed either split.
      key: PRNG key of the first minibatches (default ``jax.random.key(0)``);
        only with ``batch_size``.

    Params: ``(lambda, w)``.  w is whatever ``model.init`` returns (for
    ``nets.mlp``, ``[(W_1, b_1), ...]``); lambda is a pytree shaped like w (one
    log decay per weight, biases included) for ``"per_weight"`` and a 0-d array
    for ``"global"``, in w's dtype.  ``init(key)`` gives lambda = log(1e-3)
    everywhere and ``model.init(key)``.  ``game.evaluate(params)`` reports the
    loss and accuracy of w on every full split, ``game.accuracy(params, split)``
    one accuracy.

    >>> import jax, games, nets
    >>> data = games.load_digits(n_train=100, n_val=50, n_test=50)
    >>> game = games.hyperparameter_optimization(nets.mlp((64, 10)), data)
    >>> params = game.init(jax.random.key(0))
    >>> losses = jax.jit(lambda g, p: g.losses(p))      # jit: one program, not many ops
    >>> losses(game, params).shape, [x.shape for x in jax.tree.leaves(params[0])]
    ((2,), [(64, 10), (10,)])
    >>> xi = jax.jit(games.simultaneous_gradient)(game, params)   # dL_0/dlambda = 0
    >>> all(float(abs(g).max()) == 0.0 for g in jax.tree.leaves(xi[0]))
    True

    References:
      Bengio (2000), "Gradient-Based Optimization of Hyperparameters", Neural
      Computation.  Lorraine, Vicol & Duvenaud (2020), "Optimizing Millions of
      Hyperparameters by Implicit Differentiation", AISTATS.
    """
    data = check_data(data)
    if not isinstance(regularizer, str) or regularizer not in REGULARIZERS:
        raise ValueError(f"unknown regularizer {regularizer!r}; choose from "
                         f"{', '.join(map(repr, REGULARIZERS))}.")
    check_model(model, data)
    n_train, n_val = data.x_train.shape[0], data.x_val.shape[0]
    batch_size = check_batch_size(batch_size, min(n_train, n_val),
                                  f"the training ({n_train} examples) or validation "
                                  f"({n_val} examples) split")
    key = check_key(key, batch_size)
    if batch_size is None:
        return HyperparameterOptimization(data, model, regularizer)
    empty = MinibatchHyperparameterOptimization(
        data, model, regularizer, data.x_train[:batch_size], data.y_train[:batch_size],
        data.x_val[:batch_size], data.y_val[:batch_size])
    return first_batch(empty, key)
