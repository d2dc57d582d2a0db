"""Local linear analysis of any dynamics at a fixed point.

At a fixed point of a step map F, the iterates near it behave like those of the
Jacobian dF; the spectral radius of dF is the local linear convergence rate
(below 1: local linear convergence).  This is the analysis of Mescheder,
Nowozin & Geiger (2017), "The Numerics of GANs", NeurIPS, and of Gidel et al.
(2019), "Negative Momentum for Improved Game Dynamics", AISTATS, applied
numerically to any ``Dynamics`` and its whole state.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dynamics._base import Dynamics
from games import check_params

__all__ = ["linearize", "spectral_radius", "realify"]


def _is_dynamic(x) -> bool:
    return jnp.issubdtype(jnp.result_type(x), jnp.inexact)


def realify(state):
    """Split a state into a real vector (floats, complex as re/im) and a rebuilder.

    Integer counters and PRNG keys are bookkeeping: carried unchanged.  Leaves
    enter in ``jax.tree_util`` order (for a dynamics state: params, buffers),
    each raveled, a complex leaf as its real part then its imaginary part.

    >>> import dynamics, jax.numpy as jnp
    >>> state = dynamics.complex_momentum(0.5, 0.9j).init((jnp.ones(1), jnp.ones(1)))
    >>> vec, rebuild = dynamics.realify(state)
    >>> vec.shape                                   # 2 params + 2 complex buffers as re, im
    (6,)
    """
    leaves, treedef = jax.tree_util.tree_flatten(state)
    parts = []
    for x in leaves:
        if not _is_dynamic(x):
            continue
        if jnp.iscomplexobj(x):
            parts += [jnp.real(x).ravel(), jnp.imag(x).ravel()]
        else:
            parts.append(jnp.ravel(x))
    vec = jnp.concatenate(parts) if parts else jnp.zeros((0,))

    def rebuild(v):
        out, k = [], 0
        for x in leaves:
            if not _is_dynamic(x):
                out.append(x)
                continue
            n = x.size
            if jnp.iscomplexobj(x):
                re, im = v[k:k + n], v[k + n:k + 2 * n]
                out.append((re + 1j * im).reshape(x.shape).astype(x.dtype))
                k += 2 * n
            else:
                out.append(v[k:k + n].reshape(x.shape).astype(x.dtype))
                k += n
        return jax.tree_util.tree_unflatten(treedef, out)
    return vec, rebuild


def linearize(game, dyn: Dynamics, params, *, state=None) -> jax.Array:
    """Jacobian of one ``dyn.step`` w.r.t. the whole real-ified state.

    The state holds params and buffers; complex buffers enter as real and
    imaginary parts, counters and keys are held fixed (so are constant float
    leaves, which each add an eigenvalue 1).  Unless ``state`` is given, it is
    ``dyn.init(params)`` advanced by one step with ``params`` put back, so
    first-step special cases (optimistic's missing previous gradient) do not
    enter: at a fixed point this is the steady-state map, whose spectral radius
    is the local linear convergence rate.  Step-dependent factors (Adam's bias
    corrections) are taken at step 1; Adam-type dynamics have no derivative at
    an exact fixed point (sqrt of a zero second moment), so linearise them at a
    ``state`` of your choosing.

    Returns a (D, D) matrix, D the length of ``realify(state)[0]``.

    >>> import games, dynamics, jax.numpy as jnp
    >>> g = games.bilinear(jnp.eye(1))                      # L_1 = xy = -L_2
    >>> dynamics.linearize(g, dynamics.simgd(0.5), g.equilibrium()).tolist()   # I - lr J
    [[1.0, -0.5], [0.5, 1.0]]

    References:
      Mescheder, Nowozin & Geiger (2017), "The Numerics of GANs", NeurIPS.
      Gidel, Askari Hemmat, Pezeshki, Le Priol, Huang, Lacoste-Julien &
      Mitliagkas (2019), "Negative Momentum for Improved Game Dynamics",
      AISTATS.
    """
    check_params(game, params)
    return _linearize(game, dyn, params, state)


@jax.jit
def _linearize(game, dyn, params, state):
    # One compiled program per (dynamics, game type, shapes): hyperparameters,
    # game data and the point are traced, so a sweep reuses it.
    if state is None:
        state = dyn.step(game, dyn.init(params))._replace(params=params)
    x0, rebuild = realify(state)

    def f(x):
        return realify(dyn.step(game, rebuild(x)))[0]
    return jax.jacfwd(f)(x0)


@jax.jit
def _spectral_radius(m):
    return jnp.max(jnp.abs(jnp.linalg.eigvals(m)))


def spectral_radius(game, dyn: Dynamics, params, *, state=None) -> jax.Array:
    """max |eigenvalue| of :func:`linearize`: < 1 means local linear convergence.

    The distance to the fixed point then shrinks by about this factor per step
    (asymptotically); above 1 the fixed point repels.  Returns a real scalar.

    >>> import games, dynamics, jax.numpy as jnp
    >>> g = games.bilinear(jnp.eye(1))                      # L_1 = xy = -L_2
    >>> rho = dynamics.spectral_radius(g, dynamics.simgd(0.5), g.equilibrium())
    >>> round(float(rho), 4)                                # sqrt(1 + lr^2)
    1.118

    References:
      Mescheder, Nowozin & Geiger (2017), "The Numerics of GANs", NeurIPS.
      Gidel, Askari Hemmat, Pezeshki, Le Priol, Huang, Lacoste-Julien &
      Mitliagkas (2019), "Negative Momentum for Improved Game Dynamics",
      AISTATS.
    """
    return _spectral_radius(linearize(game, dyn, params, state=state))
