"""Dataset distillation as a two-player (leader/follower) game, on the digits.

Player 0 holds a small learned data set: M = num_classes * images_per_class
images u_1..u_M (each 64 standardised pixels) with fixed labels c_m = (m - 1)
mod num_classes (0, 1, ..., 9, 0, 1, ...).  Player 1 holds the weights w of a
classifier f(w, x) (10 logits) and trains on the learned images only; player 0
wants those weights to do well on the real training data.  With CE(w; S) the
mean softmax cross-entropy 1/|S| sum_{(x, y) in S} [logsumexp_k f(w, x)_k - f(w, x)_y]:

    L_0(u, w) = CE(w; real training data)
    L_1(u, w) = CE(w; {(u_m, c_m)}) + weight_decay/2 sum_j w_j^2

L_0 does not depend on u directly: dL_0/du = 0, so simultaneous gradient descent
never moves the images.  They move through the follower's response w*(u):
dynamics.stackelberg descends dL_0(u, w*(u))/du, by the implicit function
theorem from dL_1/dw = 0.  Without weight decay the follower's Hessian is
singular (M images cannot pin down every weight) and, for a linear model, the
cross-entropy on M separable images has no minimiser; a small ``weight_decay``
makes the best response well defined.

References:
  Wang, Zhu, Torralba & Efros (2018), "Dataset Distillation", arXiv:1811.10959.
  Lorraine, Vicol & Duvenaud (2020), "Optimizing Millions of Hyperparameters by
  Implicit Differentiation", AISTATS (dataset distillation by the IFT).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from games import checks
from games._base import Game, register_game
from games._digits import (ClassifierFollower, Digits, check_batch_size, check_data, check_key,
                           check_model, cross_entropy, draw_batch, first_batch, logits)

__all__ = ["dataset_distillation", "DatasetDistillation", "MinibatchDatasetDistillation"]


@register_game
class DatasetDistillation(ClassifierFollower, Game):
    """Learned images (player 0) against weights (player 1) on the full training split.

    Fields: ``data``, a :class:`games.Digits` (arrays are leaves);
    ``weight_decay`` (0-d, a leaf); ``model`` (static), an ``(init, apply)`` pair
    such as ``nets.mlp`` returns; ``images_per_class`` (static).  Deterministic
    (no ``resample``); :class:`MinibatchDatasetDistillation` is the minibatch
    version.
    """

    data: Digits
    weight_decay: jax.Array
    model: Any              # static: (init, apply), e.g. nets.mlp((64, 32, 10))
    images_per_class: int   # static
    num_players = 2
    _static = ("model", "images_per_class")

    @property
    def num_images(self) -> int:
        return self.data.num_classes * self.images_per_class

    @property
    def labels(self) -> jax.Array:
        """The fixed labels of the learned images, (0, 1, ..., K-1) repeated, int32."""
        return jnp.tile(jnp.arange(self.data.num_classes, dtype=jnp.int32),
                        self.images_per_class)

    def _train_batch(self):
        return self.data.x_train, self.data.y_train

    def losses(self, params):
        """[real training CE, CE on the learned images + decay] (module docstring)."""
        images, w = params
        xt, yt = self._train_batch()
        real = cross_entropy(logits(self.model, w, xt), yt)
        squares = sum(jnp.sum(p ** 2) for p in jax.tree_util.tree_leaves(w))
        synthetic = (cross_entropy(logits(self.model, w, images), self.labels)
                     + 0.5 * self.weight_decay * squares)
        return jnp.stack([real, synthetic])

    def init(self, key):
        """(images ~ N(0, 1) of shape (num_images, 64), model.init of another key)."""
        ki, kw = jax.random.split(key)
        images = jax.random.normal(ki, (self.num_images, self.data.num_features),
                                   self.data.x_train.dtype)
        return (images, self.model.init(kw))


@register_game
class MinibatchDatasetDistillation(DatasetDistillation):
    """:class:`DatasetDistillation` with L_0 on a training minibatch, and ``resample(key)``.

    Extra fields: ``x_batch`` (B, 64) and ``y_batch`` (B,), the current minibatch
    of real training data.  ``accuracy`` and ``evaluate`` use the full splits.
    """

    x_batch: jax.Array
    y_batch: jax.Array

    @property
    def batch_size(self) -> int:
        return self.x_batch.shape[-2]

    def _train_batch(self):
        return self.x_batch, self.y_batch

    def resample(self, key) -> MinibatchDatasetDistillation:
        """The same game with a fresh minibatch, drawn without replacement."""
        x, y = draw_batch(key, self.data.x_train, self.data.y_train, self.batch_size)
        return dataclasses.replace(self, x_batch=x, y_batch=y)


def dataset_distillation(model, data: Digits, *, images_per_class: int = 1,
                         batch_size: int | None = None, weight_decay: float = 0.0,
                         key=None) -> DatasetDistillation:
    """Learn a few synthetic images on which a classifier trains well: images lead.

    Player 0 holds M = num_classes * images_per_class images u_m (64 pixels, in
    the standardised units of ``data``) with fixed labels c_m = 0, 1, ..., 9, 0,
    1, ... (``game.labels``); player 1 holds the weights w of ``model``.  With
    CE(w; S) the mean softmax cross-entropy of ``model.apply(w, x)`` against y
    over the examples (x, y) of S::

        L_0(u, w) = CE(w; real training data)        (full split or minibatch)
        L_1(u, w) = CE(w; {(u_m, c_m)}) + weight_decay/2 sum_j w_j^2

    dL_0/du = 0: simultaneous gradient descent never moves the images;
    ``dynamics.stackelberg`` (images lead, weights follow) does, through the
    implicit-function-theorem hypergradient.  With ``weight_decay=0`` the
    follower's Hessian is singular; a small decay (e.g. 1e-3) makes the best
    response unique.  No closed-form equilibrium (``equilibrium()`` is None).

    Args:
      model: ``(init, apply)`` mapping one image (64,) to (num_classes,) logits,
        e.g. ``nets.mlp((64, 32, 10))``; hashable (a static field).
      data: a :class:`games.Digits`, e.g. ``games.load_digits()``.
      images_per_class: learned images per class (a positive int).
      batch_size: ``None`` (default): L_0 on the full training split, a
        deterministic :class:`DatasetDistillation`.  An int B: a
        :class:`MinibatchDatasetDistillation` holding a training minibatch of B
        examples with ``resample(key)``, so ``dynamics.simulate(..., key=key)``
        draws a fresh one every step.  B may not exceed the training split.
      weight_decay: the follower's L2 coefficient (a non-negative number).
      key: PRNG key of the first minibatch (default ``jax.random.key(0)``); only
        with ``batch_size``.

    Params: ``(images, w)``: images of shape (M, 64) in the dtype of
    ``data.x_train`` and w whatever ``model.init`` returns.  ``init(key)`` draws
    the images from N(0, 1) (standardised pixels, so of the data's scale; not
    the class means) and w from ``model.init`` with a key split from ``key``.
    ``game.evaluate(params)`` reports the loss and accuracy of w on every real
    split.

    >>> import jax, games, nets
    >>> data = games.load_digits(n_train=100, n_val=50, n_test=50)
    >>> game = games.dataset_distillation(nets.mlp((64, 10)), data, images_per_class=2)
    >>> images, w = game.init(jax.random.key(0))
    >>> losses = jax.jit(lambda g, p: g.losses(p))      # jit: one program, not many ops
    >>> images.shape, game.labels.tolist()[:12], losses(game, (images, w)).shape
    ((20, 64), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1], (2,))

    References:
      Wang, Zhu, Torralba & Efros (2018), "Dataset Distillation",
      arXiv:1811.10959.  Lorraine, Vicol & Duvenaud (2020), "Optimizing Millions
      of Hyperparameters by Implicit Differentiation", AISTATS.
    """
    data = check_data(data)
    images_per_class = checks.check_int("images_per_class", images_per_class, low=1)
    decay = checks.as_real_scalar("weight_decay", weight_decay, data.x_train.dtype)
    if checks.is_concrete(decay) and not float(decay) >= 0:
        raise ValueError(f"weight_decay must be non-negative; got {weight_decay!r}. Pass "
                         f"0 for none or a small decay such as 1e-3.")
    check_model(model, data)
    n_train = data.x_train.shape[0]
    batch_size = check_batch_size(batch_size, n_train,
                                  f"the training split ({n_train} examples)")
    key = check_key(key, batch_size)
    if batch_size is None:
        return DatasetDistillation(data, decay, model, images_per_class)
    empty = MinibatchDatasetDistillation(data, decay, model, images_per_class,
                                         data.x_train[:batch_size], data.y_train[:batch_size])
    return first_batch(empty, key)
