"""Every registered dynamics on the Dirac GAN (0-d float64 parameters) against an
independent NumPy float64 loop, to 1e-12, with x64 on (tests/conftest.py).

A precision loss anywhere in a dynamics (a complex64 buffer for 0-d float64
parameters, a float32 hyperparameter, ...) drifts the trajectory by ~1e-7 within a
few hundred steps and fails here.  The references in ``tests/_numpy_dynamics.py``
are written from the documented update equations, and the game's gradient and
Jacobian are derived by hand (checked against finite differences below).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import _numpy_dynamics as ref
import dynamics
import games
from _registry import DYNAMICS

GAMMA = 0.1                       # gradient penalty: every term of xi and J is non-zero
START = (-1.2, 2.5)               # (theta, psi), away from the equilibrium (0, 0)
STEPS = 300
TOL = dict(rtol=1e-12, atol=1e-12)


def _np(v):
    return np.asarray(v)


def _real(v):
    return float(np.asarray(v))


def _hypernetwork_noise(key, steps, samples):
    """The standard-normal lambda draws ``dynamics.hypernetwork`` documents for a 0-d
    lambda: init keeps the first half of split(key); step t splits the carried key
    into (next, sub) and draws normal(split(sub, 1)[0], (samples,))."""
    key = jax.random.split(key)[0]
    out = []
    for _ in range(steps):
        key, sub = jax.random.split(key)
        out.append(np.asarray(jax.random.normal(jax.random.split(sub, 1)[0], (samples,),
                                                jnp.float64)))
    return np.stack(out)


# entry name -> hp -> (reference, kwargs).  hp is the entry's hyperparameter dict
# (``dyn.step.args[0]``, the bound dict of make_dynamics / from_optax's data);
# options that are not hyperparameters (alternating, align) and optimisers built
# outside the dynamics are restated here.
REFERENCES = {
    "simgd": lambda hp: (ref.simgd, dict(lr=_real(hp["lr"]))),
    "alternating": lambda hp: (ref.alternating, dict(lr=_real(hp["lr"]))),
    "momentum_negative": lambda hp: (ref.momentum, dict(
        lr=_real(hp["lr"]), beta=_real(hp["beta"]), alternating=False)),
    "momentum_alternating": lambda hp: (ref.momentum, dict(
        lr=_real(hp["lr"]), beta=_real(hp["beta"]), alternating=True)),
    "extragradient": lambda hp: (ref.extragradient, dict(lr=_real(hp["lr"]))),
    "optimistic": lambda hp: (ref.optimistic, dict(lr=_real(hp["lr"]))),
    "consensus": lambda hp: (ref.consensus, dict(lr=_real(hp["lr"]),
                                                 gamma=_real(hp["gamma"]))),
    "sga_align": lambda hp: (ref.sga, dict(lr=_real(hp["lr"]), lam=_real(hp["lam"]),
                                           align=True)),
    "sga_plain": lambda hp: (ref.sga, dict(lr=_real(hp["lr"]), lam=_real(hp["lam"]),
                                           align=False)),
    "lola": lambda hp: (ref.lola, dict(lr=_real(hp["lr"]), eta=_real(hp["eta"]))),
    # _registry.ADAM = optax.adam(1e-2), _registry.SGD = optax.sgd(0.1): restated.
    "optax_adam": lambda hp: (ref.per_player, dict(optimizer=ref.NumpyAdam(1e-2))),
    "optax_sgd_alternating": lambda hp: (ref.per_player, dict(
        optimizer=ref.NumpySGD(0.1), alternating=True)),
    "optax_adam_factory": lambda hp: (ref.per_player, dict(
        optimizer=ref.NumpyAdam(_real(hp["learning_rate"])))),
    "complex_momentum": lambda hp: (ref.complex_momentum, dict(
        lr=complex(_np(hp["lr"])), beta=complex(_np(hp["beta"])))),
    "complex_momentum_alternating": lambda hp: (ref.complex_momentum, dict(
        lr=complex(_np(hp["lr"])), beta=complex(_np(hp["beta"])), alternating=True)),
    "complex_momentum_complex_lr": lambda hp: (ref.complex_momentum, dict(
        lr=complex(_np(hp["lr"])), beta=complex(_np(hp["beta"])))),
    "aggregated_momentum": lambda hp: (ref.aggregated_momentum, dict(
        lrs=_np(hp["lrs"]), betas=_np(hp["betas"]))),
    "recurrent_momentum": lambda hp: (ref.recurrent_momentum, dict(
        B=_np(hp["B"]), a=_np(hp["a"]))),
    "complex_adam": lambda hp: (ref.complex_adam, dict(
        lr=_real(hp["lr"]), beta1=complex(_np(hp["beta1"])), beta2=_real(hp["beta2"]),
        eps=_real(hp["eps"]))),
    # With a real beta1 complex Adam is exactly Adam (mu = -m): compare with Adam.
    "complex_adam_real_beta": lambda hp: (ref.per_player, dict(optimizer=ref.NumpyAdam(
        _real(hp["lr"]), b1=_real(hp["beta1"]), b2=_real(hp["beta2"]),
        eps=_real(hp["eps"])))),
    # the draws are the dynamics' documented ones (inputs here, not computed by it)
    "hypernetwork_linear": lambda hp: (ref.hypernetwork_linear, dict(
        leader_lr=_real(hp["leader_lr"]), net_lr=_real(hp["net_lr"]),
        sigma=_real(hp["sigma"]), noise=_hypernetwork_noise(hp["key"], STEPS, 2))),
    # inner_steps (a loop length) restated from tests/_registry.py
    "stackelberg_neumann": lambda hp: (ref.stackelberg_neumann, dict(
        leader_lr=_real(hp["leader_lr"]), follower_lr=_real(hp["follower"].step.args[0]["lr"]),
        inner_steps=2, alpha=_real(hp["method"].alpha), terms=hp["method"].terms)),
}


def _game():
    return games.dirac_gan(GAMMA)


# Two kinds of 0-d float64 start: weakly typed (``jnp.asarray(1.2)``, what users
# write; the pre-fix buffer rule ``jnp.result_type(param, jnp.complex64)`` gave
# these complex64 buffers, as a weak float64 does not widen complex64) and
# strongly typed (what ``game.init`` returns).  Each compiles once per dynamics.
STARTS = {
    "weak": lambda: tuple(jnp.asarray(x) for x in START),
    "strong": lambda: tuple(jnp.asarray(x, jnp.float64) for x in START),
}


def _start(kind):
    start = STARTS[kind]()
    assert all(p.dtype == jnp.float64 and p.ndim == 0 for p in start)
    assert all(p.weak_type == (kind == "weak") for p in start)
    return start


@functools.lru_cache(maxsize=None)
def _run(name, kind):
    """(dyn, gamedyn trajectory, its params as (STEPS + 1, 2), NumPy reference) for
    registry entry ``name`` from the ``kind`` start."""
    if name not in REFERENCES:
        pytest.fail(f"dynamics entry {name!r} of tests/_registry.py has no NumPy float64 "
                    f"reference: add one to tests/_numpy_dynamics.py (written from the "
                    f"documented update equations) and map {name!r} to it in "
                    f"REFERENCES in tests/test_scalar_reference.py.")
    dyn = DYNAMICS[name][1](1.0)
    hp = dyn.step.args[0] if dyn.step.args else {}
    fn, kwargs = REFERENCES[name](hp)
    traj = dynamics.simulate(_game(), dyn, _start(kind), STEPS, metrics=())
    got = np.stack([np.asarray(p) for p in traj.params], axis=-1)     # (STEPS + 1, 2)
    want = fn(ref.DiracGAN(GAMMA), np.array(START), STEPS, **kwargs)
    return dyn, traj, got, want


@pytest.mark.parametrize("kind", list(STARTS))
@pytest.mark.parametrize("name", list(DYNAMICS))
def test_matches_numpy_float64(name, kind):
    _, traj, got, want = _run(name, kind)
    assert got.dtype == np.float64, got.dtype
    assert int(traj.diverged_at) == -1
    # The run must move: a trajectory stuck near 0 would hide precision losses.
    assert np.abs(want[-1] - want[0]).max() > 1e-2
    np.testing.assert_allclose(got, want, **TOL,
                               err_msg=f"{name} ({kind} start): gamedyn vs NumPy float64")


@pytest.mark.parametrize("kind", list(STARTS))
@pytest.mark.parametrize("name", list(DYNAMICS))
def test_state_and_hyperparameters_are_double(name, kind):
    dyn, traj, _, _ = _run(name, kind)
    for where, state in (("init", dyn.init(_start(kind))), ("final", traj.final)):
        for path, leaf in jax.tree_util.tree_leaves_with_path(state):
            dt = jnp.result_type(leaf)
            if jnp.issubdtype(dt, jnp.inexact):
                assert dt in (jnp.float64, jnp.complex128), (
                    f"{name} ({kind} start): {where} state leaf "
                    f"{jax.tree_util.keystr(path)} is {dt}; "
                    f"0-d float64 parameters need float64/complex128 buffers")
        for p in state.params:
            assert jnp.result_type(p) == jnp.float64 and jnp.ndim(p) == 0
    hp = dyn.step.args[0] if dyn.step.args else {}
    for key, v in hp.items():
        if isinstance(v, (jax.Array, np.ndarray, np.generic)) \
                and jnp.issubdtype(v.dtype, jnp.inexact):
            assert v.dtype in (jnp.float64, jnp.complex128), f"{name}: {key} is {v.dtype}"


def test_references_cover_the_registry():
    stale = sorted(set(REFERENCES) - set(DYNAMICS))
    assert not stale, f"REFERENCES has entries no longer in tests/_registry.py: {stale}"


def test_complex_entries_use_complex_buffers():
    # The complex-buffer entries really run complex128 buffers (so the dtype test
    # above covers the buffers the old complex64 bug was in).
    for name in ("complex_momentum", "complex_momentum_alternating",
                 "complex_momentum_complex_lr", "aggregated_momentum", "complex_adam",
                 "complex_adam_real_beta"):
        if name in DYNAMICS:
            for kind in STARTS:
                leaves = jax.tree_util.tree_leaves(_run(name, kind)[1].final.mu)
                assert leaves and all(leaf.dtype == jnp.complex128 for leaf in leaves), \
                    (name, kind)


# ------------------------------------------------------------------ the references themselves


def _central(fn, w, h=1e-6):
    w = np.asarray(w, np.float64)
    cols = []
    for k in range(w.size):
        e = np.zeros_like(w)
        e[k] = h
        cols.append((fn(w + e) - fn(w - e)) / (2 * h))
    return np.stack(cols, axis=-1)


@pytest.mark.parametrize("w", [START, (0.3, 2.0), (-1.5, 0.4), (0.0, 0.0)])
def test_numpy_dirac_derivatives_match_finite_differences(w):
    g = ref.DiracGAN(GAMMA)
    G = g.loss_grads(np.array(w))
    np.testing.assert_allclose(G, _central(g.losses, w), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(g.xi(np.array(w)), np.diag(G), rtol=0, atol=0)
    np.testing.assert_allclose(g.jacobian(np.array(w)), _central(g.xi, w),
                               rtol=1e-7, atol=1e-9)


def test_numpy_dirac_jacobian_at_equilibrium():
    # The documented J at (0, 0): [[0, 1/2], [-1/2, gamma]].
    J = ref.DiracGAN(GAMMA).jacobian(np.zeros(2))
    np.testing.assert_allclose(J, [[0, 0.5], [-0.5, GAMMA]], rtol=0, atol=1e-15)


def test_numpy_references_agree_where_they_coincide():
    g, w0 = ref.DiracGAN(GAMMA), np.array(START)
    same = lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)
    # SGD per player is simgd / alternating gradient descent.
    same(ref.per_player(g, w0, 50, ref.NumpySGD(0.1)), ref.simgd(g, w0, 50, 0.1))
    same(ref.per_player(g, w0, 50, ref.NumpySGD(0.1), alternating=True),
         ref.alternating(g, w0, 50, 0.1))
    # Complex Adam with real beta1 is Adam; complex momentum with real beta is heavy ball.
    same(ref.complex_adam(g, w0, 50, 1e-2, 0.8), ref.per_player(g, w0, 50,
                                                                ref.NumpyAdam(1e-2, b1=0.8)))
    same(ref.complex_momentum(g, w0, 50, 0.1, -0.3, alternating=True),
         ref.momentum(g, w0, 50, 0.1, -0.3, alternating=True))
    # Complex momentum (lr, beta) = aggregated momentum over (beta, conj beta) with
    # lrs (lr/2, conj(lr)/2) = recurrent momentum with B = [[Re b, -Im b], [Im b, Re b]],
    # a = (Re lr, -Im lr).
    lr, b = 0.1 * np.exp(0.2j), 0.8 * np.exp(0.3j)
    cm = ref.complex_momentum(g, w0, 50, lr, b)
    same(ref.aggregated_momentum(g, w0, 50, [lr / 2, np.conj(lr) / 2], [b, np.conj(b)]), cm)
    same(ref.recurrent_momentum(g, w0, 50, [[b.real, -b.imag], [b.imag, b.real]],
                                [lr.real, -lr.imag]), cm)
    # Zero gamma / lambda / eta reduce consensus, SGA and LOLA to simgd.
    sim = ref.simgd(g, w0, 50, 0.1)
    same(ref.consensus(g, w0, 50, 0.1, 0.0), sim)
    same(ref.sga(g, w0, 50, 0.1, 0.0, align=False), sim)
    same(ref.lola(g, w0, 50, 0.1, 0.0), sim)


def test_sga_align_flips_sign_on_this_run():
    # The aligned SGA run exercises both signs of lambda', so the test above checks
    # the sign rule, not just SGA with a fixed lambda.
    signs = []
    ref.sga(ref.DiracGAN(GAMMA), np.array(START), STEPS, 0.1, 1.0, align=True, signs=signs)
    assert {-1.0, 1.0} <= set(signs), set(signs)
