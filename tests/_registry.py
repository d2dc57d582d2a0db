"""The shared test registries: every public dynamics factory, optax transformation
and game factory, with the settings the common checks use.

``tests/test_registries.py`` fails when a name exported by ``dynamics`` or
``games`` is neither registered here nor listed as not being a factory, so an
addition cannot skip the common checks.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import dynamics
import games
import nets

# One optimiser object per entry: from_optax(same object) must not recompile.
ADAM = optax.adam(1e-2)
SGD = optax.sgd(0.1)

# entry name -> (public factory name, scale -> Dynamics).  scale = 1 and scale = 2
# build the same dynamics with other hyperparameter values (the no-recompilation
# check uses both).
DYNAMICS = {
    "simgd": ("simgd", lambda s: dynamics.simgd(0.1 * s)),
    "alternating": ("alternating", lambda s: dynamics.alternating(0.1 * s)),
    "momentum_negative": ("momentum", lambda s: dynamics.momentum(0.1 * s, -0.3 * s)),
    "momentum_alternating": ("momentum", lambda s: dynamics.momentum(
        0.1 * s, -0.3 * s, alternating=True)),
    "extragradient": ("extragradient", lambda s: dynamics.extragradient(0.1 * s)),
    "optimistic": ("optimistic", lambda s: dynamics.optimistic(0.1 * s)),
    "consensus": ("consensus", lambda s: dynamics.consensus(0.1 * s, 0.5 * s)),
    "sga_align": ("sga", lambda s: dynamics.sga(0.1 * s, 1.0 * s, align=True)),
    "sga_plain": ("sga", lambda s: dynamics.sga(0.1 * s, 1.0 * s, align=False)),
    "lola": ("lola", lambda s: dynamics.lola(0.1 * s, 0.5 * s)),
    "optax_adam": ("from_optax", lambda s: dynamics.from_optax(ADAM)),
    "optax_sgd_alternating": ("from_optax",
                              lambda s: dynamics.from_optax(SGD, alternating=True)),
    "optax_adam_factory": ("from_optax", lambda s: dynamics.from_optax(
        optax.adam, learning_rate=1e-2 * s)),
    "complex_momentum": ("complex_momentum", lambda s: dynamics.complex_momentum(
        0.1 * s, 0.8 * np.exp(0.3j * s))),
    "complex_momentum_alternating": ("complex_momentum", lambda s: dynamics.complex_momentum(
        0.1 * s, 0.8 * np.exp(0.3j * s), alternating=True)),
    "complex_momentum_complex_lr": ("complex_momentum", lambda s: dynamics.complex_momentum(
        0.1 * s * np.exp(0.2j), 0.8 * np.exp(0.3j * s))),
    "aggregated_momentum": ("aggregated_momentum", lambda s: dynamics.aggregated_momentum(
        [0.05 * s, 0.05 * s], [0.5 * s, -0.4 + 0.3j])),
    "recurrent_momentum": ("recurrent_momentum", lambda s: dynamics.recurrent_momentum(
        np.array([[0.7, -0.3 * s], [0.3 * s, 0.7]]), np.array([0.1 * s, 0.02]))),
    "complex_adam": ("complex_adam", lambda s: dynamics.complex_adam(
        1e-2 * s, 0.8 * np.exp(0.3j * s))),
    "complex_adam_real_beta": ("complex_adam", lambda s: dynamics.complex_adam(
        1e-2 * s, 0.9 - 0.1 * s)),
    "stackelberg_neumann": ("stackelberg", lambda s: dynamics.stackelberg(
        0.1 * s, follower=dynamics.simgd(0.2 * s), inner_steps=2,
        method=dynamics.Neumann(0.5 * s, 3))),
    "hypernetwork_linear": ("hypernetwork", lambda s: dynamics.hypernetwork(
        nets.linear_hypernet, leader_lr=0.1 * s, net_lr=0.2 * s, sigma=0.3 * s, samples=2,
        key=jax.random.key(7))),
}

# Entries that need a particular number of players (leader/follower games).
PLAYERS = {"hypernetwork_linear": 2}

# entry name -> (public factory name, () -> optax.GradientTransformation)
OPTAX_TRANSFORMS = {
    "optax_complex_momentum": ("optax_complex_momentum", lambda: dynamics.optax_complex_momentum(
        0.1, 0.8 * np.exp(0.3j))),
    "optax_complex_momentum_real": ("optax_complex_momentum",
                                    lambda: dynamics.optax_complex_momentum(0.1, 0.9)),
    "optax_complex_adam": ("optax_complex_adam", lambda: dynamics.optax_complex_adam(
        1e-2, 0.8 * np.exp(0.3j))),
}

# Exported names of dynamics that are not dynamics factories.
DYNAMICS_NOT_FACTORIES = {
    "Dynamics", "make_dynamics", "augmented_matrix", "RateGrid", "grid_map", "rate_grid",
    "sweep", "Sweep",
    "spectral_radius_grid", "steps_to_tolerance_grid", "simulate", "Trajectory", "METRICS",
    "distance_to_equilibrium", "memory_budget", "linearize", "spectral_radius", "realify",
    # hypergradients and their linear-solve methods (tests/test_hypergradient.py)
    "hypergradient", "hypergradient_of_root", "hessian_top_eigenvalue", "HypergradientInfo",
    "Exact", "CG", "GMRES", "Neumann", "Identity", "Unrolled", "Truncated",
    "StackelbergState", "FollowerGame", "HypernetworkState", "fit_best_response",
    # Lyapunov exponents and bifurcation search (tests/test_lyapunov.py)
    "lyapunov_exponents", "LyapunovResult", "find_bifurcation", "BifurcationResult",
}


def _rng(seed):
    return np.random.default_rng(seed)


# A 3-player quadratic game: L_i = s_i/2 |theta_i|^2 + theta_i . B_i theta_{i+1} + c_i . theta_i
# (indices mod 3), so xi_i = s_i theta_i + B_i theta_{i+1} + c_i and the Jacobian
# has blocks (i, i) = s_i I and (i, i+1) = B_i.
_R3 = _rng(3)
S3 = np.array([1.0, 0.5, 2.0])
B3 = _R3.normal(size=(3, 2, 2))
C3 = _R3.normal(size=(3, 2))


def _three_player_loss(i):
    def loss(params, data):
        th, nxt = params[i], params[(i + 1) % 3]
        return (0.5 * data["s"][i] * th @ th + th @ data["B"][i] @ nxt
                + data["c"][i] @ th)
    return loss


# Loss functions are static fields of the game: build them once, so that games
# differing only in data share compiled programs.
THREE_PLAYER_LOSSES = tuple(_three_player_loss(i) for i in range(3))


def three_player_game(s=S3, B=B3, c=C3, equilibrium=None):
    data = {"s": jnp.asarray(s), "B": jnp.asarray(B), "c": jnp.asarray(c)}
    return games.from_losses(*THREE_PLAYER_LOSSES,
                             init=(jnp.zeros(2),) * 3, data=data, equilibrium=equilibrium)


def _small_gan():
    return games.gan_mixture("ring8", batch_size=8, hidden=4, latent_dim=2, dtype=jnp.float64)


def _small_digits():
    # Few examples and a tiny smooth (tanh) network: the finite-difference checks
    # in tests/test_games.py build dense Jacobians over all parameters.
    return games.load_digits(n_train=16, n_val=12, n_test=8, dtype=jnp.float64)


_DIGITS_NET = nets.mlp((64, 3, 10), activation="tanh", dtype=jnp.float64)


# entry name -> (public factory name, () -> Game): the games every game-level
# check (finite differences, Jacobians, pytrees) runs on.
GAMES = {
    "bilinear": ("bilinear", lambda: games.bilinear(
        _rng(0).normal(size=(3, 2)), _rng(1).normal(size=3), _rng(2).normal(size=2))),
    "adversarial": ("adversarial", lambda: games.adversarial(0.6)),
    "dirac_gan": ("dirac_gan", lambda: games.dirac_gan(0.7)),
    "matching_pennies": ("matching_pennies", lambda: games.matching_pennies(1.3)),
    "ipd": ("ipd", lambda: games.ipd()),
    "small_ipd": ("small_ipd", lambda: games.small_ipd()),
    "mix": ("mix", lambda: games.mix(games.matching_pennies(), games.small_ipd(), 0.4)),
    "random_subspace": ("random_subspace", lambda: games.random_subspace(
        games.dirac_gan(0.7), 5, key=jax.random.key(5))),
    "three_player": ("from_losses", three_player_game),
    "gan_mixture": ("gan_mixture", _small_gan),
    "hyperparameter_optimization": ("hyperparameter_optimization", lambda: (
        games.hyperparameter_optimization(_DIGITS_NET, _small_digits(), regularizer="global"))),
    "dataset_distillation": ("dataset_distillation", lambda: games.dataset_distillation(
        _DIGITS_NET, _small_digits(), weight_decay=0.01)),
}

# Exported names of games that are not game factories.
GAMES_NOT_FACTORIES = {
    "Game", "Params", "check_params", "jacobian", "jacobian_operator", "player_gradient",
    "register_game", "simultaneous_gradient", "unchecked_simultaneous_gradient", "checks",
    "CustomGame", "DiracGAN", "GANMixture", "GAN_MIXTURE_KINDS", "mixture_modes",
    "IPD_STRATEGIES", "ipd_strategy",
    "load_digits", "Digits", "HyperparameterOptimization", "MinibatchHyperparameterOptimization",
    "HYPERPARAMETER_REGULARIZERS", "DatasetDistillation", "MinibatchDatasetDistillation",
    "SmallIPD", "MixedGame", "RandomSubspaceGame",
    "IPD_CLASSES", "ipd_policy_class", "ipd_policy_profile", "to_axelrod",
}


# A 3-player game with a dict-valued player, built from module-level losses so
# that games differing only in ``data`` share one compiled program.
def _loss_0(p, d):
    a, y, z = p
    return 0.5 * a["w"] @ a["w"] + a["w"] @ d["M01"] @ y + d["c"] * jnp.tanh(a["b"]) * z[0]


def _loss_1(p, d):
    a, y, z = p
    return 0.5 * y @ y - a["w"] @ d["M01"] @ y + y @ d["M12"] @ z


def _loss_2(p, d):
    a, y, z = p
    return 0.5 * z @ z - y @ d["M12"] @ z + d["c"] * a["b"] ** 2 * jnp.sum(z)


_TEMPLATE = ({"w": jnp.zeros(2), "b": jnp.zeros(())}, jnp.zeros(2), jnp.zeros(3))
_RNG = np.random.default_rng(0)
_DATA = {"M01": _RNG.normal(size=(2, 2)), "M12": _RNG.normal(size=(2, 3)),
         "c": np.float64(0.3)}
_A = np.array([[1.0, 0.5], [-0.3, 0.8]])

# The games every dynamics runs on in the common dynamics checks: scale -> Game.
DYNAMICS_GAMES = {
    "bilinear_2x2": lambda s: games.bilinear(s * _A),
    "three_player": lambda s: games.from_losses(
        _loss_0, _loss_1, _loss_2, init=_TEMPLATE,
        data={k: jnp.asarray(s * v) for k, v in _DATA.items()}),
    "dirac_gan": lambda s: games.dirac_gan(0.1 * s),
}
