"""Bad input fails early, with a ValueError/TypeError that names what was received.

Each ``match`` checks that the message quotes the offending value, shape or dtype,
so that messages stay useful when they are reworded.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynamics
import games

BILINEAR = games.bilinear(np.ones((2, 3)))
GOOD = (jnp.zeros(2), jnp.zeros(3))


def _entry_points():
    """Both ways params reach a game: directly, and through dynamics.simulate."""
    return {
        "simultaneous_gradient": lambda game, p: games.simultaneous_gradient(game, p),
        "jacobian": lambda game, p: games.jacobian(game, p),
        "simulate": lambda game, p: dynamics.simulate(game, dynamics.simgd(0.1), p, 2),
    }


ENTRY = pytest.mark.parametrize("call", list(_entry_points().values()),
                                ids=list(_entry_points()))


# --------------------------------------------------------------------------- params


@ENTRY
@pytest.mark.parametrize("n", [1, 3])
def test_wrong_number_of_players(call, n):
    params = (jnp.zeros(2), jnp.zeros(3), jnp.zeros(3))[:n]
    with pytest.raises(ValueError, match=rf"2 players but params holds {n} entries"):
        call(BILINEAR, params)


@ENTRY
def test_params_not_a_tuple(call):
    with pytest.raises(TypeError, match=r"tuple.*got list"):
        call(BILINEAR, list(GOOD))


@ENTRY
def test_mismatched_shapes(call):
    with pytest.raises(ValueError, match=r"player 0.*float64\[3\].*expects float64\[2\]"):
        call(BILINEAR, (jnp.zeros(3), jnp.zeros(3)))
    with pytest.raises(ValueError, match=r"player 1.*float64\[2, 3\].*expects float64\[3\]"):
        call(BILINEAR, (jnp.zeros(2), jnp.zeros((2, 3))))


def test_mismatched_shape_with_python_number():
    # A Python float where an array is expected used to raise AttributeError.
    with pytest.raises(ValueError, match=r"player 0.*float64\[\].*expects float64\[2\]"):
        games.simultaneous_gradient(BILINEAR, (1.0, jnp.zeros(3)))


def test_mismatched_structure():
    with pytest.raises(ValueError, match=r"player 0.*structure \{'w': 'float64\[2\]'\}"):
        games.simultaneous_gradient(BILINEAR, ({"w": jnp.zeros(2)}, jnp.zeros(3)))


@ENTRY
def test_complex_params(call):
    with pytest.raises(TypeError, match=r"player 1.*complex.*complex128\[3\]"):
        call(BILINEAR, (jnp.zeros(2), jnp.zeros(3, complex)))


@ENTRY
def test_integer_params(call):
    with pytest.raises(TypeError, match=r"player 0.*dtype int64\[2\].*real floats"):
        call(BILINEAR, (jnp.zeros(2, int), jnp.zeros(3)))


def test_boolean_params():
    with pytest.raises(TypeError, match=r"player 0.*bool\[2\]"):
        games.simultaneous_gradient(BILINEAR, (jnp.zeros(2, bool), jnp.zeros(3)))


class _Unregistered(games.Game):          # a Game subclass without @register_game
    num_players = 2

    def losses(self, params):
        x, y = params
        return jnp.stack([jnp.sum(x * y), -jnp.sum(x * y)])

    def init(self, key):
        return (jnp.zeros(1), jnp.zeros(1))


@ENTRY
def test_game_class_not_registered_as_a_pytree(call):
    with pytest.raises(TypeError, match="_Unregistered is not registered as a pytree.*"
                                        "@games.register_game"):
        call(_Unregistered(), (jnp.zeros(1), jnp.zeros(1)))


def test_non_scalar_loss_in_from_losses():
    game = games.from_losses(lambda p: p[0] * 2.0, init=(jnp.zeros(2),))
    with pytest.raises(ValueError, match=r"loss_fns\[0\].*scalar.*shape \(2,\)"):
        games.simultaneous_gradient(game, (jnp.ones(2),))


# --------------------------------------------------------------------------- dynamics

CONSTRUCTORS = {
    "simgd": lambda lr: dynamics.simgd(lr),
    "alternating": lambda lr: dynamics.alternating(lr),
    "momentum": lambda lr: dynamics.momentum(lr, 0.5),
    "extragradient": lambda lr: dynamics.extragradient(lr),
    "optimistic": lambda lr: dynamics.optimistic(lr),
    "consensus": lambda lr: dynamics.consensus(lr),
    "sga": lambda lr: dynamics.sga(lr),
    "lola": lambda lr: dynamics.lola(lr, 1.0),
}


@pytest.mark.parametrize("lr", [0, -0.1, 0.0])
@pytest.mark.parametrize("make", list(CONSTRUCTORS.values()), ids=list(CONSTRUCTORS))
def test_non_positive_step_size(make, lr):
    with pytest.raises(ValueError, match=rf"lr must be positive; got {re.escape(repr(lr))}"):
        make(lr)


@pytest.mark.parametrize("make", list(CONSTRUCTORS.values()), ids=list(CONSTRUCTORS))
def test_complex_step_size(make):
    with pytest.raises(TypeError, match=r"lr must be real.*0\.1\+0\.1j"):
        make(0.1 + 0.1j)


@pytest.mark.parametrize("make", list(CONSTRUCTORS.values()), ids=list(CONSTRUCTORS))
def test_positive_step_size_accepted(make):
    make(0.1)
    make(np.float32(0.1))


def test_complex_beta_to_real_momentum():
    with pytest.raises(TypeError, match=r"beta must be real.*0\.5\+0\.3j"):
        dynamics.momentum(0.1, 0.5 + 0.3j)


def test_negative_beta_is_allowed():
    dynamics.momentum(0.1, -0.5)


# --------------------------------------------------------------------------- payoffs


@pytest.mark.parametrize("payoff,shape", [(np.ones(4), r"\(4,\)"),
                                          (np.ones((2, 3)), r"\(2, 3\)"),
                                          (np.ones((2, 2, 2)), r"\(2, 2, 2\)")])
def test_ipd_payoff_of_wrong_shape(payoff, shape):
    with pytest.raises(ValueError, match=rf"payoff.*shape \(2, 2\); got shape {shape}"):
        games.ipd(payoff=payoff)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_ipd_payoff_not_finite(bad):
    payoff = np.array([[-1.0, -3.0], [0.0, bad]])
    with pytest.raises(ValueError, match=rf"payoff.*finite.*{re.escape(str(bad))}"):
        games.ipd(payoff=payoff)


def test_ipd_payoff_complex():
    with pytest.raises(TypeError, match=r"payoff.*real.*complex128"):
        games.ipd(payoff=np.ones((2, 2)) * 1j)


@pytest.mark.parametrize("discount", [0, 0.0, 1, 1.0, -0.5, 1.5])
def test_discount_outside_open_unit_interval(discount):
    with pytest.raises(ValueError, match=rf"discount must lie in \(0, 1\); got "
                                         rf"{re.escape(str(float(discount)))}"):
        games.ipd(discount=discount)


def test_discount_not_a_real_scalar():
    with pytest.raises(TypeError, match=r"discount must be a real number; got 0\.9j"):
        games.ipd(discount=0.9j)
    with pytest.raises(ValueError, match=r"discount must be a scalar.*shape \(2,\)"):
        games.ipd(discount=np.array([0.5, 0.9]))
    with pytest.raises(ValueError, match=r"discount must be finite; got nan"):
        games.ipd(discount=float("nan"))


@pytest.mark.parametrize("A,shape", [(np.ones(3), r"\(3,\)"), (np.ones((2, 2, 2)), r"\(2, 2, 2\)"),
                                     (np.float64(1.0), r"\(\)")])
def test_bilinear_A_not_2d(A, shape):
    with pytest.raises(ValueError, match=rf"A .*rank 2; got shape {shape}"):
        games.bilinear(A)


def test_bilinear_b_c_of_wrong_length():
    with pytest.raises(ValueError, match=r"b must have shape \(2,\); got shape \(3,\)"):
        games.bilinear(np.ones((2, 3)), b=np.ones(3))
    with pytest.raises(ValueError, match=r"c must have shape \(3,\); got shape \(2,\)"):
        games.bilinear(np.ones((2, 3)), c=np.ones(2))
    with pytest.raises(ValueError, match=r"b must have shape \(2,\); got shape \(2, 1\)"):
        games.bilinear(np.ones((2, 3)), b=np.ones((2, 1)))


def test_bilinear_A_not_finite_or_complex():
    with pytest.raises(ValueError, match=r"A .*finite.*nan"):
        games.bilinear([[1.0, np.nan]])
    with pytest.raises(TypeError, match=r"A .*real.*complex128"):
        games.bilinear(np.eye(2) * 1j)


def test_game_scalars():
    with pytest.raises(ValueError, match=r"gradient_penalty must be >= 0; got -1\.0"):
        games.dirac_gan(-1.0)
    with pytest.raises(TypeError, match=r"gradient_penalty must be a real number; got 1j"):
        games.dirac_gan(1j)
    with pytest.raises(ValueError, match=r"gamma_max must lie in \[0, 1\]; got 1\.5"):
        games.adversarial(1.5)
    with pytest.raises(ValueError, match=r"gamma_max must be a scalar.*shape \(2,\)"):
        games.adversarial(np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"dim must be a positive int; got 0"):
        games.adversarial(0.5, dim=0)
    with pytest.raises(ValueError, match=r"gammas must have rank 1; got shape \(2, 2\)"):
        games.adversarial(gammas=np.ones((2, 2)))
    with pytest.raises(TypeError, match=r"scale must be a real number; got '1'"):
        games.matching_pennies("1")


# --------------------------------------------------------------------------- from_losses


def _loss(p):
    return p[0] @ p[1]


@pytest.mark.parametrize("init,exc,msg", [
    (None, ValueError, r"one entry per player \(2\); got NoneType"),
    ((jnp.zeros(2),), ValueError, r"one entry per player \(2\); got tuple of length 1"),
    ([jnp.zeros(2), jnp.zeros(2)], ValueError, r"got list of length 2"),
    ((jnp.zeros(2, int), jnp.zeros(2)), TypeError, r"dtype int64 and shape \(2,\)"),
    ((jnp.zeros(2), jnp.zeros(2, complex)), TypeError, r"dtype complex128 and shape \(2,\)"),
], ids=["none", "too_short", "list", "int", "complex"])
def test_from_losses_bad_init(init, exc, msg):
    with pytest.raises(exc, match=msg):
        games.from_losses(_loss, _loss, init=init)


def test_from_losses_bad_loss_fns_and_equilibrium():
    with pytest.raises(ValueError, match=r"at least one loss function; got none"):
        games.from_losses(init=())
    with pytest.raises(TypeError, match=r"loss_fns\[1\] must be callable.*got float"):
        games.from_losses(_loss, 1.0, init=(jnp.zeros(2), jnp.zeros(2)))
    with pytest.raises(ValueError, match=r"equilibrium.*\(2\); got 3 entries"):
        games.from_losses(_loss, _loss, init=(jnp.zeros(2), jnp.zeros(2)),
                          equilibrium=(jnp.zeros(2),) * 3)


def test_from_losses_init_fn_with_wrong_player_count():
    game = games.from_losses(_loss, _loss, init=lambda key: (jnp.zeros(2),))
    with pytest.raises(ValueError, match=r"init\(key\) returns .*float64\[2\].*one pytree per "
                                         r"player \(2\)"):
        games.simultaneous_gradient(game, (jnp.zeros(2), jnp.zeros(2)))


def test_jacobian_operator_vectors():
    jvp, vjp = games.jacobian_operator(BILINEAR, GOOD)
    with pytest.raises(ValueError, match=r"v must be a flat vector of shape \(5,\).*got shape "
                                         r"\(2,\)"):
        jvp(np.ones(2))
    with pytest.raises(ValueError, match=r"u must be a flat vector of shape \(5,\).*\(5, 1\)"):
        vjp(np.ones((5, 1)))
    with pytest.raises(TypeError, match=r"v must be a real vector; got dtype complex128"):
        jvp(np.ones(5) * 1j)


# ---- hyperparameters are scalars; metrics names; numpy ints ----

@pytest.mark.parametrize("make", [
    lambda lr: dynamics.simgd(lr),
    lambda lr: dynamics.momentum(0.1, lr),
    lambda lr: dynamics.complex_momentum(lr, 0.5j),
    lambda lr: dynamics.complex_momentum(0.1, lr * 1j),
])
def test_array_hyperparameters_are_rejected_not_broadcast(make):
    with pytest.raises(ValueError, match=r"must be a scalar; got shape \(2,\).*jax.vmap"):
        make(jnp.array([0.1, 0.2]))


def test_vmapped_hyperparameters_still_work():
    g = games.bilinear(jnp.eye(1))
    p = (jnp.ones(1), jnp.ones(1))
    out = jax.vmap(lambda lr: dynamics.simulate(g, dynamics.simgd(lr), p, 3,
                                                metrics=()).final.params[0])(jnp.array([.1, .2]))
    assert out.shape == (2, 1)


def test_metric_given_as_one_name_and_numpy_int_steps():
    g = games.bilinear(jnp.eye(1))
    p = (jnp.ones(1), jnp.ones(1))
    tr = dynamics.simulate(g, dynamics.simgd(0.1), p, np.int64(4), metrics="distance")
    assert set(tr.metrics) == {"distance"} and tr.metrics["distance"].shape == (5,)
    # The distance to the (non-zero) equilibrium, against NumPy: b = 1, c = -2 puts it
    # at x* = -c = 2, y* = -b = -1 for A = [[1]].
    g2 = games.bilinear(jnp.eye(1), b=[1.0], c=[-2.0])
    tr = dynamics.simulate(g2, dynamics.simgd(0.1), p, 3, metrics="distance")
    x, y = (np.asarray(v)[:, 0] for v in tr.params)
    np.testing.assert_allclose(tr.metrics["distance"], np.hypot(x - 2.0, y + 1.0), atol=1e-12)
    # Python-number parameters work when a step is called directly, too.
    s = dynamics.momentum(0.1, 0.5).init((1.0, 2.0))
    xy = games.from_losses(lambda q: q[0] * q[1], lambda q: -q[0] * q[1],
                           init=(jnp.zeros(()), jnp.zeros(())))
    s = dynamics.momentum(0.1, 0.5).step(xy, s)     # xi = (y, -x) = (2, -1)
    assert [float(x) for x in s.params] == pytest.approx([0.8, 2.1])


def test_adversarial_refuses_gamma_max_and_gammas_together():
    with pytest.raises(ValueError, match="gamma_max or gammas, not both"):
        games.adversarial(0.5, gammas=np.zeros(7))
    assert float(games.adversarial().gammas[-1]) == 1.0
