"""Closed-form linear update matrix of (complex) momentum on a linear game.

The augmented (state-space) matrix of Lorraine, Acuna, Vicol & Duvenaud (2022),
"Complex Momentum for Optimization in Games", AISTATS, whose spectral radius is
the local linear convergence rate.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

__all__ = ["augmented_matrix"]


def augmented_matrix(J, lr, beta, *, alternating: bool = False, sizes=None):
    """The matrix R with x_{t+1} = R x_t for complex momentum on xi = J (omega - omega*).

    The state is x = [Re mu; Im mu; omega - omega*] (each block of length d).
    Simultaneous updates mu <- b mu - J (omega - omega*), omega <- omega +
    Re(a mu) (``complex_momentum``) give, block by block:

        R = [[Re b I, -Im b I, -J],
             [Im b I,  Re b I,  0],
             [Re(ab) I, -Im(ab) I, I - Re(a) J]]        (a = lr, b = beta).

    With ``alternating=True`` the players update in turn, so R is the product
    R_n ... R_1 of the player-wise updates, each seeing the earlier players'
    new parameters; ``sizes=(d_1, ..., d_n)`` (required: J alone does not say
    how many players there are) gives each player's number of coordinates, in
    the order of J's rows.  Converges iff the spectral radius of R is < 1.
    Works on traced values.

    Args:
      J: the game Jacobian, a real (d, d) matrix (e.g. ``games.jacobian``).
      lr: a = the step size, real or complex.
      beta: b = the momentum coefficient, real or complex.
      alternating: players update in turn (``complex_momentum(...,
        alternating=True)``); then ``sizes`` is required.
      sizes: each player's number of coordinates, summing to d.

    Returns a real (3d, 3d) matrix in the real dtype of J, lr and beta.  Its
    eigenvalues equal those of ``linearize`` for ``complex_momentum`` at the
    equilibrium (up to the state's ordering).

    >>> import jax.numpy as jnp, numpy as np
    >>> J = jnp.array([[0.0, 1.0], [-1.0, 0.0]])            # L = xy
    >>> R = augmented_matrix(J, 0.5, 0.72 * np.exp(3j * np.pi / 8))
    >>> R.shape, round(float(jnp.max(jnp.abs(jnp.linalg.eigvals(R)))), 2)
    ((6, 6), 0.92)

    References:
      Lorraine, Acuna, Vicol & Duvenaud (2022), "Complex Momentum for
      Optimization in Games", AISTATS.  Lorraine (2024), "Scalable Nested
      Optimization for Deep Learning", PhD thesis, University of Toronto.
    """
    J = jnp.asarray(J)
    if J.ndim != 2 or J.shape[0] != J.shape[1]:
        raise ValueError(f"J must be a square matrix; got shape {J.shape}.")
    d = J.shape[0]
    a = jnp.asarray(lr) + 0j
    b = jnp.asarray(beta) + 0j
    dt = jnp.result_type(J.dtype, jnp.real(a).dtype, jnp.real(b).dtype)
    J = J.astype(dt)
    if not alternating:
        blocks = [np.arange(d)]
    else:
        if sizes is None:
            raise ValueError(f"alternating=True needs sizes=(d_1, ..., d_n), each player's "
                             f"number of coordinates in J's order (J is {d} x {d} and does "
                             f"not say how many players there are); e.g. sizes="
                             f"({d // 2}, {d - d // 2}) for two players.")
        sizes = [int(s) for s in sizes]
        if sum(sizes) != d or min(sizes) < 1:
            raise ValueError(f"sizes must be positive and add up to J's size {d}; got {sizes}.")
        blocks = np.split(np.arange(d), np.cumsum(sizes)[:-1])
    ab = a * b
    R = jnp.eye(3 * d, dtype=dt)
    for idx in blocks:
        rm, im, w = idx, d + idx, 2 * d + idx
        Ri = jnp.eye(3 * d, dtype=dt)
        Ri = Ri.at[rm, rm].set(jnp.real(b)).at[rm, im].set(-jnp.imag(b))
        Ri = Ri.at[im, rm].set(jnp.imag(b)).at[im, im].set(jnp.real(b))
        Ri = Ri.at[w, rm].set(jnp.real(ab)).at[w, im].set(-jnp.imag(ab))
        Ri = Ri.at[rm[:, None], 2 * d + np.arange(d)].add(-J[idx])
        Ri = Ri.at[w[:, None], 2 * d + np.arange(d)].add(-jnp.real(a) * J[idx])
        R = Ri @ R
    return R
