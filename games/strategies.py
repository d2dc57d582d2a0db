"""Hypothesis strategies that draw random games, for property-testing theorems.

``hypothesis`` is a test extra (``pip install gamedyn[test]``); only code that
imports this module needs it.  Every strategy draws games whose *shapes* come
from a small set (sizes ``min_size..max_size``) and whose *values* vary, so a
property compiled once per shape runs on many examples; the games are pytrees,
so their matrices are traced data, not constants baked into the program.

* :func:`bilinear_games`: zero-sum ``x^T A y`` with chosen singular values.
* :func:`quadratic_games`: two-player quadratic games with an adversarialness
  coefficient mixing a potential (minimisation) part and a bilinear part.
* :func:`adversarial_games`: the adversarialness family of Lorraine, Acuna,
  Vicol & Duvenaud (2022), "Complex Momentum for Optimization in Games"
  (``games.adversarial``), with random per-coordinate adversarialness.
* :func:`normal_form_games`: payoff matrices of two-player normal-form games.

>>> from hypothesis import given, settings
>>> import numpy as np
>>> @settings(max_examples=5, deadline=None)
... @given(bilinear_games(max_size=2, sigma_range=(0.5, 1.0)))
... def check(game):
...     s = np.linalg.svd(np.asarray(game.A), compute_uv=False)
...     assert game.A.shape[0] <= 2 and np.all((s > 0.5 - 1e-6) & (s < 1.0 + 1e-6))
>>> check()
"""

from __future__ import annotations

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "games.strategies needs the 'hypothesis' package, a test extra of gamedyn; "
        "install it with `pip install gamedyn[test]` or `pip install hypothesis`."
    ) from e

import jax.numpy as jnp
import numpy as np

from games._adversarial import adversarial
from games._bilinear import bilinear
from games._custom import from_losses

__all__ = [
    "orthogonal_matrices",
    "bilinear_games",
    "quadratic_games",
    "adversarial_games",
    "normal_form_games",
]


def _check_range(name, rng, low=None):
    lo, hi = (float(v) for v in rng)
    if not lo <= hi or (low is not None and lo < low):
        bound = "" if low is None else f" with low >= {low}"
        raise ValueError(f"{name} must be a pair (low, high) with low <= high{bound}; "
                         f"got {rng!r}.")
    return lo, hi


def _check_sizes(min_size, max_size):
    if not (isinstance(min_size, int) and isinstance(max_size, int)
            and 1 <= min_size <= max_size):
        raise ValueError(f"need integers 1 <= min_size <= max_size; got min_size="
                         f"{min_size!r}, max_size={max_size!r}.")


@st.composite
def orthogonal_matrices(draw, n: int) -> np.ndarray:
    """A random ``(n, n)`` orthogonal matrix (numpy, float64).

    The Q factor of a drawn matrix with entries in [-1, 1]: always orthogonal
    (Householder QR), and it shrinks towards the identity.
    """
    m = draw(hnp.arrays(np.float64, (n, n),
                        elements=st.floats(-1.0, 1.0, allow_nan=False, width=64)))
    q, r = np.linalg.qr(m)
    # Fix the signs so the factor is a function of m (and identity for m = 0).
    signs = np.where(np.diag(r) < 0, -1.0, 1.0)
    return q * signs


def _singular_values(draw, n, sigma_range):
    lo, hi = sigma_range
    return np.array([draw(st.floats(lo, hi, allow_nan=False)) for _ in range(n)])


def _matrix_with_singular_values(draw, n, sigma_range):
    u = draw(orthogonal_matrices(n))
    v = draw(orthogonal_matrices(n))
    return u @ np.diag(_singular_values(draw, n, sigma_range)) @ v.T


@st.composite
def bilinear_games(draw, min_size: int = 1, max_size: int = 3,
                   sigma_range: tuple[float, float] = (0.1, 2.0), offsets: bool = False):
    """Bilinear zero-sum games ``L_1 = x^T A y (+ b^T x + c^T y)``, ``L_2 = -L_1``.

    ``A = U diag(sigma) V^T`` is square, of a size drawn from
    ``min_size..max_size``, with random orthogonal ``U, V`` and singular values
    drawn from ``sigma_range``; with ``sigma_range[0] > 0`` the equilibrium
    ``x* = -A^-T c, y* = -A^-1 b`` is unique.  ``offsets=True`` also draws ``b``
    and ``c`` in [-1, 1] (otherwise the equilibrium is the origin).
    Returns a ``games.bilinear`` game (its ``A``, ``b``, ``c`` fields hold the data).
    """
    _check_sizes(min_size, max_size)
    sigma_range = _check_range("sigma_range", sigma_range, low=0.0)
    n = draw(st.integers(min_size, max_size))
    A = _matrix_with_singular_values(draw, n, sigma_range)
    if offsets:
        vec = hnp.arrays(np.float64, (n,), elements=st.floats(-1.0, 1.0, width=64))
        b, c = draw(vec), draw(vec)
    else:
        b = c = np.zeros(n)
    return bilinear(jnp.asarray(A), jnp.asarray(b), jnp.asarray(c))


def _quadratic_loss_1(params, data):
    x, y = params
    g = data["gamma"]
    return 0.5 * (1 - g) * x @ data["S1"] @ x + g * x @ data["A"] @ y


def _quadratic_loss_2(params, data):
    x, y = params
    g = data["gamma"]
    return 0.5 * (1 - g) * y @ data["S2"] @ y - g * x @ data["A"] @ y


@st.composite
def quadratic_games(draw, min_size: int = 1, max_size: int = 3,
                    adversarialness: tuple[float, float] = (0.0, 1.0),
                    curvature_range: tuple[float, float] = (0.1, 2.0),
                    sigma_range: tuple[float, float] = (0.1, 2.0)):
    """Two-player quadratic games with adversarialness ``gamma``:

        L_1 = 1/2 (1 - gamma) x^T S_1 x + gamma x^T A y,
        L_2 = 1/2 (1 - gamma) y^T S_2 y - gamma x^T A y,

    so ``gamma = 0`` is two independent minimisations and ``gamma = 1`` a
    bilinear zero-sum game.  ``S_i`` are symmetric positive definite with
    eigenvalues in ``curvature_range``, ``A`` square with singular values in
    ``sigma_range``, ``gamma`` drawn from ``adversarialness`` (within [0, 1]).
    The game Jacobian is the constant
    ``J = [[(1 - gamma) S_1, gamma A], [-gamma A^T, (1 - gamma) S_2]]`` and the
    equilibrium is the origin.

    Built with ``games.from_losses`` from two module-level loss functions and
    ``data = {"S1", "S2", "A", "gamma"}`` (read them from ``game.data``), so all
    games of one size share a compiled program.
    """
    _check_sizes(min_size, max_size)
    glo, ghi = _check_range("adversarialness", adversarialness, low=0.0)
    if ghi > 1.0:
        raise ValueError(f"adversarialness must lie within [0, 1]; got {adversarialness!r}.")
    curvature_range = _check_range("curvature_range", curvature_range, low=0.0)
    sigma_range = _check_range("sigma_range", sigma_range, low=0.0)
    n = draw(st.integers(min_size, max_size))
    spd = []
    for _ in range(2):
        q = draw(orthogonal_matrices(n))
        lam = _singular_values(draw, n, curvature_range)
        spd.append((q * lam) @ q.T)
    A = _matrix_with_singular_values(draw, n, sigma_range)
    gamma = draw(st.floats(glo, ghi, allow_nan=False))
    data = {"S1": jnp.asarray(spd[0]), "S2": jnp.asarray(spd[1]), "A": jnp.asarray(A),
            "gamma": jnp.asarray(gamma, dtype=jnp.asarray(A).dtype)}
    zero = jnp.zeros(n, data["A"].dtype)
    return from_losses(_quadratic_loss_1, _quadratic_loss_2, init=(zero, zero), data=data,
                       equilibrium=(zero, zero))


@st.composite
def adversarial_games(draw, min_size: int = 1, max_size: int = 7,
                      adversarialness: tuple[float, float] = (0.0, 1.0)):
    """``games.adversarial(gammas=...)`` with each coordinate's gamma drawn from
    ``adversarialness`` and ``a = b = linspace(1/4, 4, size)``."""
    _check_sizes(min_size, max_size)
    lo, hi = _check_range("adversarialness", adversarialness, low=0.0)
    if hi > 1.0:
        raise ValueError(f"adversarialness must lie within [0, 1]; got {adversarialness!r}.")
    n = draw(st.integers(min_size, max_size))
    gammas = draw(hnp.arrays(np.float64, (n,), elements=st.floats(lo, hi, allow_nan=False)))
    return adversarial(gammas=jnp.asarray(gammas))


@st.composite
def normal_form_games(draw, min_actions: int = 2, max_actions: int = 3,
                      payoff_range: tuple[float, float] = (-1.0, 1.0),
                      zero_sum: bool = False):
    """Payoff matrices ``(R_1, R_2)`` of a two-player normal-form game.

    Both are float64 numpy arrays of shape ``(m, n)`` with ``m, n`` drawn from
    ``min_actions..max_actions``; ``R_k[a, b]`` is player k's reward when
    player 1 plays row ``a`` and player 2 column ``b``.  ``zero_sum=True``
    gives ``R_2 = -R_1``.
    """
    if not (isinstance(min_actions, int) and isinstance(max_actions, int)
            and 1 <= min_actions <= max_actions):
        raise ValueError(f"need integers 1 <= min_actions <= max_actions; got "
                         f"{min_actions!r}, {max_actions!r}.")
    lo, hi = _check_range("payoff_range", payoff_range)
    m = draw(st.integers(min_actions, max_actions))
    n = draw(st.integers(min_actions, max_actions))
    elements = st.floats(lo, hi, allow_nan=False, width=64)
    r1 = draw(hnp.arrays(np.float64, (m, n), elements=elements))
    r2 = -r1 if zero_sum else draw(hnp.arrays(np.float64, (m, n), elements=elements))
    return r1, r2
