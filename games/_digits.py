"""scikit-learn's bundled handwritten digits, split and standardised for the games.

``load_digits()`` reads the 1797 8 x 8 images of ``sklearn.datasets.load_digits``
(64 features with integer values 0..16, 10 classes; the data ship with
scikit-learn, nothing is downloaded) and returns a :class:`Digits` container with
standardised train / validation / test splits.  scikit-learn is an optional
dependency (``pip install 'gamedyn[data]'``) and is imported only when the data
are loaded, never by ``import games``.

The private helpers below (softmax cross-entropy, per-example application of a
model, input checks) are shared by the classification games
(``games.hyperparameter_optimization`` and ``games.dataset_distillation``).

References:
  Alpaydin & Kaynak (1998), "Optical Recognition of Handwritten Digits", UCI
  Machine Learning Repository (the data set).
  Pedregosa et al. (2011), "Scikit-learn: Machine Learning in Python", JMLR.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from games import checks
from games._base import register_fields

__all__ = ["load_digits", "Digits", "SPLITS"]

NUM_FEATURES = 64
NUM_CLASSES = 10
NUM_IMAGES = 1797
DEFAULT_TRAIN = 1000
DEFAULT_VAL = 400
SPLITS = ("train", "val", "test")


@dataclasses.dataclass(frozen=True)
class Digits:
    """Standardised splits of the digits data (a frozen pytree; arrays are leaves).

    ``x_*`` have shape (n_*, 64) in the requested float dtype, ``y_*`` shape (n_*,)
    int32 with labels 0..num_classes-1.  ``mean`` and ``std`` (64,) are the
    training split's raw feature means and the standard deviations divided by
    (1 where a raw feature is constant on the training split), so a raw image
    is ``x * std + mean``.  ``num_classes`` (10) is static.
    """

    x_train: jax.Array
    y_train: jax.Array
    x_val: jax.Array
    y_val: jax.Array
    x_test: jax.Array
    y_test: jax.Array
    mean: jax.Array
    std: jax.Array
    num_classes: int = NUM_CLASSES

    @property
    def num_features(self) -> int:
        return self.x_train.shape[-1]

    def split(self, name: str):
        """``(x, y)`` of the split ``"train"``, ``"val"`` or ``"test"``."""
        check_split(name)
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")


register_fields(Digits, ["x_train", "y_train", "x_val", "y_val", "x_test", "y_test", "mean",
                         "std"], ["num_classes"])


def _size(name, value, default, available):
    if value is None:
        return default
    return checks.check_int(name, value, low=1, high=available)


def load_digits(*, n_train: int | None = None, n_val: int | None = None,
                n_test: int | None = None, seed: int = 0, dtype=jnp.float32) -> Digits:
    """The 8 x 8 digits of scikit-learn, split and standardised, as a :class:`Digits`.

    The 1797 images (64 features, 10 classes) are ordered by a stratified
    shuffle drawn with ``numpy.random.default_rng(seed)`` (within each class a
    random order; classes interleaved so that every prefix holds the classes in
    about their overall proportions), and the train, validation and test splits
    are consecutive, disjoint blocks of that order.  Defaults: ``n_train=1000``,
    ``n_val=400`` and ``n_test`` = all remaining images (397 with the other two
    defaults).  Every feature is standardised with the *training* split's mean and
    standard deviation, x <- (x - mean) / std, with std replaced by 1 for features
    constant on the training split (the corner pixels), so those are 0 in
    training.  The same arguments always give the same splits.

    Args:
      n_train, n_val, n_test: split sizes (positive ints, together at most 1797).
      seed: seed of the shuffle.
      dtype: floating dtype of the features (labels are int32).  float64 needs
        ``jax_enable_x64``.

    Raises ImportError when scikit-learn is not installed
    (``pip install 'gamedyn[data]'``).

    >>> d = load_digits(n_train=100, n_val=50, n_test=50)
    >>> d.x_train.shape, d.y_val.shape, d.x_test.dtype.name, d.num_classes
    ((100, 64), (50,), 'float32', 10)

    References:
      Alpaydin & Kaynak (1998), "Optical Recognition of Handwritten Digits", UCI
      Machine Learning Repository.  Pedregosa et al. (2011), "Scikit-learn:
      Machine Learning in Python", JMLR.
    """
    n_train = _size("n_train", n_train, DEFAULT_TRAIN, NUM_IMAGES)
    n_val = _size("n_val", n_val, DEFAULT_VAL, NUM_IMAGES)
    if n_test is None:
        n_test = NUM_IMAGES - n_train - n_val
        if n_test < 1:
            raise ValueError(f"n_train + n_val = {n_train + n_val} leaves no test images "
                             f"(the data hold {NUM_IMAGES}); pass smaller sizes.")
    else:
        n_test = checks.check_int("n_test", n_test, low=1, high=NUM_IMAGES)
    if n_train + n_val + n_test > NUM_IMAGES:
        raise ValueError(f"n_train + n_val + n_test = {n_train} + {n_val} + {n_test} = "
                         f"{n_train + n_val + n_test}, more than the {NUM_IMAGES} images of "
                         f"the digits data; pass smaller sizes.")
    seed = checks.check_int("seed", seed, low=0)
    dt = jnp.dtype(dtype)
    if not jnp.issubdtype(dt, jnp.floating):
        raise TypeError(f"dtype must be a real floating dtype such as jnp.float32; got {dt}.")
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as err:
        raise ImportError(
            "games.load_digits needs scikit-learn, an optional dependency of gamedyn "
            "(its digits data ship with it). Install it with: pip install 'gamedyn[data]' "
            "(or pip install 'scikit-learn>=1.3').") from err
    raw = sklearn_digits()
    x = np.asarray(raw.data, np.float64)
    y = np.asarray(raw.target, np.int64)
    order = _stratified_order(y, np.random.default_rng(seed))
    a, b = n_train, n_train + n_val
    idx = order[:a], order[a:b], order[b:b + n_test]
    mean = x[idx[0]].mean(axis=0)
    std = x[idx[0]].std(axis=0)
    std = np.where(std > 0, std, 1.0)

    def features(i):
        return jnp.asarray((x[i] - mean) / std, dt)

    def labels(i):
        return jnp.asarray(y[i], jnp.int32)

    return Digits(features(idx[0]), labels(idx[0]), features(idx[1]), labels(idx[1]),
                  features(idx[2]), labels(idx[2]), jnp.asarray(mean, dt),
                  jnp.asarray(std, dt), NUM_CLASSES)


def _stratified_order(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A permutation of range(len(y)) in which every prefix is about stratified.

    Example k (0-based, in a random order) of a class with n_c examples gets the
    key (k + u) / n_c with u ~ U(0, 1); sorting by the key interleaves the classes.
    """
    key = np.empty(len(y))
    u = rng.random(len(y))
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        members = members[rng.permutation(len(members))]
        key[members] = (np.arange(len(members)) + u[members]) / len(members)
    return np.argsort(key, kind="stable")


# --------------------------------------------------------------------------- shared helpers


def check_split(name) -> str:
    if name not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(map(repr, SPLITS))}; got {name!r}.")
    return name


def check_data(data) -> Digits:
    if not isinstance(data, Digits):
        raise TypeError(f"data must be a games.Digits container, as games.load_digits() "
                        f"returns; got {type(data).__name__}.")
    return data


def check_model(model, data: Digits) -> None:
    """``model`` is a hashable ``(init, apply)`` pair mapping (64,) to (num_classes,) logits."""
    if not (hasattr(model, "init") and hasattr(model, "apply")):
        raise TypeError(f"model must have init(key) and apply(params, x), as nets.mlp "
                        f"returns; got {type(model).__name__}.")
    try:
        hash(model)
    except TypeError:
        raise TypeError("model must be hashable (it is a static field of the game); "
                        "nets.mlp networks are.") from None
    d, k = data.num_features, data.num_classes
    params = jax.eval_shape(model.init, jax.random.key(0))
    for leaf in jax.tree_util.tree_leaves(params):
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise TypeError(f"model.init returns a leaf of dtype {leaf.dtype}; the weights "
                            f"must be real floats.")
    try:
        out = jax.eval_shape(model.apply, params,
                             jax.ShapeDtypeStruct((d,), data.x_train.dtype))
    except Exception as err:        # a shape error of the user's network
        raise ValueError(f"model must map one image of shape ({d},) to {k} logits, e.g. "
                         f"nets.mlp(({d}, 32, {k})); applying it failed: {err}") from err
    if getattr(out, "shape", None) != (k,):
        raise ValueError(f"model maps an image of shape ({d},) to shape "
                         f"{getattr(out, 'shape', out)}; it must return {k} logits, one "
                         f"per class, e.g. nets.mlp(({d}, 32, {k})).")


def check_batch_size(batch_size, available: int, what: str) -> int | None:
    if batch_size is None:
        return None
    if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int or None (full splits); got "
                         f"{batch_size!r}.")
    if batch_size > available:
        raise ValueError(f"batch_size={batch_size} is larger than {what}; pass "
                         f"batch_size <= {available}, or None for the full splits.")
    return int(batch_size)


def check_key(key, batch_size):
    if batch_size is None:
        if key is not None:
            raise ValueError("key= draws the first minibatch; with batch_size=None the game "
                             "uses the full splits and is deterministic. Drop key= or pass "
                             "batch_size=.")
        return None
    return jax.random.key(0) if key is None else key


def logits(model, w, x):
    """The model's logits for a batch x (n, 64) -> (n, num_classes), one example at a time."""
    return jax.vmap(lambda xi: model.apply(w, xi))(x)


def cross_entropy(z, y):
    """Mean softmax cross-entropy of logits z (n, K) against int labels y (n,)."""
    picked = jnp.take_along_axis(z, y[:, None].astype(jnp.int32), axis=-1)[:, 0]
    return jnp.mean(jax.nn.logsumexp(z, axis=-1) - picked)


def accuracy(z, y):
    """Share of rows of z (n, K) whose arg max is the label y (n,)."""
    return jnp.mean((jnp.argmax(z, axis=-1) == y).astype(z.dtype))


def draw_batch(key, x, y, batch_size: int):
    """``batch_size`` distinct rows of (x, y), drawn uniformly."""
    idx = jax.random.permutation(key, x.shape[0])[:batch_size]
    return x[idx], y[idx]


@jax.jit
def first_batch(game, key):
    """``game.resample(key)`` as one compiled program (the factories' first draw;
    inside a scan ``resample`` is traced directly)."""
    return game.resample(key)


@functools.partial(jax.jit, static_argnums=0)
def split_accuracy(model, w, x, y):
    """Accuracy of the weights ``w`` on the examples (x, y) (compiled once per model)."""
    return accuracy(logits(model, w, x), y)


class ClassifierFollower:
    """Methods shared by the digits games, whose player 1 holds the weights of a
    classifier ``self.model`` trained on ``self.data``."""

    def equilibrium(self):
        return None

    def predict(self, params, x):
        """Logits (n, num_classes) of the weights ``params[1]`` for images x (n, 64)."""
        return logits(self.model, params[1], x)

    def accuracy(self, params, split: str = "val"):
        """Share of the full ``split`` (``"train"``, ``"val"``, ``"test"``) classified right."""
        x, y = self.data.split(check_split(split))
        return split_accuracy(self.model, params[1], x, y)

    def evaluate(self, params) -> dict:
        """``{"train_loss", "train_accuracy", "val_loss", ..., "test_accuracy"}`` of the
        weights ``params[1]`` on the full splits: unregularised mean cross-entropy and
        accuracy, 0-d arrays."""
        return evaluate(self.model, params[1], self.data)


@functools.partial(jax.jit, static_argnums=0)
def evaluate(model, w, data: Digits) -> dict:
    """Loss and accuracy of the weights ``w`` on every split, as 0-d arrays."""
    out = {}
    for name in SPLITS:
        x, y = data.split(name)
        z = logits(model, w, x)
        out[f"{name}_loss"] = cross_entropy(z, y)
        out[f"{name}_accuracy"] = accuracy(z, y)
    return out
