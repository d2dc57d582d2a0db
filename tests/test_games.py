"""Tests of games/: derivatives, closed forms, equilibria, from_losses, pytrees.

Every expected number comes from a closed form, central finite differences (in
float64) or a NumPy transcription written here, never from the code under test.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import games
from _registry import B3, C3, GAMES, S3, three_player_game

# --------------------------------------------------------------------------- helpers

# The code under test, jitted once: games are pytree arguments, so each game type
# and shape compiles once (eager calls would compile op by op, which is slower).
JAC = jax.jit(games.jacobian)
XI = jax.jit(games.simultaneous_gradient)
LOSSES = jax.jit(lambda game, params: game.losses(params))


def _rng(seed):
    return np.random.default_rng(seed)


def _owners(params):
    """For each coordinate of ravel_pytree(params), the player that owns it."""
    return np.concatenate([np.full(ravel_pytree(p)[0].size, i) for i, p in enumerate(params)])


def _central_points(flat, h):
    d = flat.size
    eye = np.eye(d) * h
    return jnp.asarray(np.concatenate([flat + eye, flat - eye]))


# jitted rather than eager (eager vmaps dispatch op by op); ``params`` only
# supplies the structure to unravel into, so games of one type share a compile.
@jax.jit
def _vmapped_losses(game, points, params):
    unravel = ravel_pytree(params)[1]
    return jax.vmap(lambda v: game.losses(unravel(v)))(points)


@jax.jit
def _vmapped_xi(game, points, params):
    unravel = ravel_pytree(params)[1]
    return jax.vmap(lambda v: ravel_pytree(games.simultaneous_gradient(game, unravel(v)))[0])(
        points)


def fd_xi(game, params, h=1e-6):
    """Central differences of L_i in each coordinate of theta_i."""
    flat = np.asarray(ravel_pytree(params)[0], dtype=np.float64)
    d = flat.size
    vals = np.asarray(_vmapped_losses(game, _central_points(flat, h), params))
    own = _owners(params)
    return (vals[np.arange(d), own] - vals[d + np.arange(d), own]) / (2 * h)


def fd_jacobian(game, params, h=1e-6):
    """Central differences of the raveled simultaneous gradient: column k = dxi/domega_k."""
    flat = np.asarray(ravel_pytree(params)[0], dtype=np.float64)
    d = flat.size
    vals = np.asarray(_vmapped_xi(game, _central_points(flat, h), params))
    return ((vals[:d] - vals[d:]) / (2 * h)).T


def sorted_eigs(x, decimals=6):
    x = np.asarray(x)
    return x[np.lexsort((np.round(x.imag, decimals), np.round(x.real, decimals)))]


def flat(tree):
    return np.asarray(ravel_pytree(tree)[0])


def three_player_jacobian(s, B):
    J = np.zeros((6, 6))
    for i in range(3):
        j = (i + 1) % 3
        J[2 * i:2 * i + 2, 2 * i:2 * i + 2] = s[i] * np.eye(2)
        J[2 * i:2 * i + 2, 2 * j:2 * j + 2] = B[i]
    return J


GAME_NAMES = list(GAMES)


def _builtin(name):
    return GAMES[name][1]()


@pytest.fixture(scope="module", params=GAME_NAMES)
def game_and_point(request):
    game = _builtin(request.param)
    params = game.init(jax.random.key(7))
    return game, params


# --------------------------------------------------------------------------- derivatives


def test_simultaneous_gradient_matches_finite_differences(game_and_point):
    game, params = game_and_point
    xi = XI(game, params)
    assert jax.tree.structure(xi) == jax.tree.structure(params)
    np.testing.assert_allclose(flat(xi), fd_xi(game, params), rtol=1e-6, atol=1e-8)


def test_jacobian_matches_finite_differences(game_and_point):
    game, params = game_and_point
    J = np.asarray(JAC(game, params))
    d = flat(params).size
    assert J.shape == (d, d)
    np.testing.assert_allclose(J, fd_jacobian(game, params), rtol=1e-6, atol=1e-8)


@jax.jit
def _apply_operator(game, params, v, u):
    jvp, vjp = games.jacobian_operator(game, params)
    return jvp(v), vjp(u)


def test_jacobian_operator_matches_dense(game_and_point):
    game, params = game_and_point
    J = fd_jacobian(game, params)
    r = _rng(1)
    v, u = r.normal(size=(2, J.shape[0]))
    got_jv, got_ju = _apply_operator(game, params, v, u)
    np.testing.assert_allclose(np.asarray(got_jv), J @ v, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(np.asarray(got_ju), J.T @ u, rtol=1e-6, atol=1e-8)


def test_player_gradient_is_own_block():
    game = _builtin("three_player")
    params = game.init(jax.random.key(3))
    xi = XI(game, params)
    own = jax.jit(lambda g, p: [games.player_gradient(g, p, i) for i in range(3)])(game, params)
    for i in range(3):
        np.testing.assert_allclose(own[i], xi[i], atol=1e-12)


# --------------------------------------------------------------------------- closed forms


def test_bilinear_losses_and_jacobian_closed_form():
    r = _rng(10)
    A, b, c = r.normal(size=(3, 2)), r.normal(size=3), r.normal(size=2)
    game = games.bilinear(A, b, c)
    J_expected = np.block([[np.zeros((3, 3)), A], [-A.T, np.zeros((2, 2))]])
    for seed in range(2):  # a linear game: the same J everywhere
        x, y = _rng(20 + seed).normal(size=3), _rng(30 + seed).normal(size=2)
        l1 = x @ A @ y + b @ x + c @ y
        np.testing.assert_allclose(LOSSES(game, (jnp.asarray(x), jnp.asarray(y))),
                                   [l1, -l1], rtol=1e-12)
        np.testing.assert_allclose(JAC(game, (jnp.asarray(x), jnp.asarray(y))),
                                   J_expected, atol=1e-12)
    sigma = np.linalg.svd(A, compute_uv=False)
    expected = np.concatenate([1j * sigma, -1j * sigma, [0.0]])
    eigs = np.linalg.eigvals(np.asarray(JAC(game, game.init(jax.random.key(0)))))
    np.testing.assert_allclose(sorted_eigs(eigs), sorted_eigs(expected), atol=1e-10)


def test_bilinear_doc_example_l_equals_xy():
    game = games.bilinear([[1.0]])
    J = np.asarray(JAC(game, (jnp.zeros(1), jnp.zeros(1))))
    np.testing.assert_allclose(J, [[0.0, 1.0], [-1.0, 0.0]], atol=1e-15)


@pytest.mark.parametrize("g", [0.0, 0.3, 1.0, 2.5])
def test_dirac_gan_jacobian_eigenvalues(g):
    game = games.dirac_gan(g)
    eq = game.equilibrium()
    np.testing.assert_allclose(flat(eq), [0.0, 0.0])
    J = np.asarray(JAC(game, eq))
    np.testing.assert_allclose(J, [[0.0, 0.5], [-0.5, g]], atol=1e-14)
    root = np.lib.scimath.sqrt(g**2 / 4 - 0.25)
    expected = np.array([g / 2 + root, g / 2 - root])
    # g = 1 is a defective double eigenvalue: eig is accurate to ~sqrt(eps) there.
    np.testing.assert_allclose(sorted_eigs(np.linalg.eigvals(J)), sorted_eigs(expected),
                               atol=1e-6)


def test_dirac_gan_losses_match_numpy():
    game = games.dirac_gan(0.7)
    f = lambda t: -np.log1p(np.exp(-t))
    for theta, psi in [(0.3, -1.2), (-2.0, 0.5), (4.0, 3.0)]:
        expected = [f(psi * theta), -f(psi * theta) - f(0.0) + 0.35 * psi**2]
        np.testing.assert_allclose(LOSSES(game, (jnp.asarray(theta), jnp.asarray(psi))),
                                   expected, rtol=1e-12)


def test_matching_pennies_rotational_at_zero():
    scale = 1.3
    game = games.matching_pennies(scale)
    eq = game.equilibrium()
    J = np.asarray(JAC(game, eq))
    np.testing.assert_allclose(J, scale * np.array([[0.0, -0.25], [0.25, 0.0]]), atol=1e-14)
    eigs = np.linalg.eigvals(J)
    np.testing.assert_allclose(eigs.real, 0.0, atol=1e-14)
    np.testing.assert_allclose(np.sort(eigs.imag), [-scale / 4, scale / 4], atol=1e-14)
    sig = lambda t: 1 / (1 + np.exp(-t))
    for t1, t2 in [(0.4, -1.1), (2.0, 0.3)]:
        l1 = -scale * (2 * sig(t1) - 1) * (2 * sig(t2) - 1)
        np.testing.assert_allclose(LOSSES(game, (jnp.asarray(t1), jnp.asarray(t2))),
                                   [l1, -l1], rtol=1e-12)


def _adversarial_reference(gammas):
    """NumPy transcription of the adversarialness family (Lorraine et al. 2022): losses and Jacobian of the adversarial family."""
    d = len(gammas)
    a = b = np.linspace(0.25, 4.0, d)

    def losses(x, y):
        l1 = np.sum(0.5 * (1 - gammas) * b * x**2 - gammas * a * x * y)
        l2 = np.sum(0.5 * (1 - gammas) * b * y**2 + gammas * a * x * y)
        return np.array([l1, l2])
    D = np.diag((1 - gammas) * b)
    G = np.diag(gammas * a)
    return losses, np.block([[D, -G], [G, D]])


@pytest.mark.parametrize("gamma_max", [0.0, 0.35, 1.0])
def test_adversarial_matches_paper_formulas(gamma_max):
    game = games.adversarial(gamma_max)
    gammas = np.linspace(0.0, gamma_max, 7)
    np.testing.assert_allclose(game.gammas, gammas, atol=1e-15)
    losses, J_expected = _adversarial_reference(gammas)
    x, y = _rng(4).normal(size=7), _rng(5).normal(size=7)
    p = (jnp.asarray(x), jnp.asarray(y))
    np.testing.assert_allclose(LOSSES(game, p), losses(x, y), rtol=1e-12)
    J = np.asarray(JAC(game, p))
    np.testing.assert_allclose(J, J_expected, atol=1e-12)
    # coordinate k contributes (1 - g_k) b_k +- i g_k a_k
    ab = np.linspace(0.25, 4.0, 7)
    expected = np.concatenate([(1 - gammas) * ab + 1j * gammas * ab,
                               (1 - gammas) * ab - 1j * gammas * ab])
    np.testing.assert_allclose(sorted_eigs(np.linalg.eigvals(J)), sorted_eigs(expected),
                               atol=1e-10)


def test_adversarial_zero_is_two_minimisations():
    game = games.adversarial(0.0)
    J = np.asarray(JAC(game, game.init(jax.random.key(1))))
    ab = np.linspace(0.25, 4.0, 7)
    np.testing.assert_allclose(J, J.T, atol=0)
    np.testing.assert_allclose(J, np.diag(np.concatenate([ab, ab])), atol=1e-14)
    assert np.all(np.linalg.eigvalsh(J) > 0)


def test_adversarial_all_ones_is_purely_bilinear():
    # linspace(0, gamma_max, 7) always has gamma_1 = 0, so the
    # purely bilinear member of the family is gammas = 1 everywhere.
    game = games.adversarial(gammas=np.ones(7))
    J = np.asarray(JAC(game, game.init(jax.random.key(1))))
    np.testing.assert_allclose(J, -J.T, atol=0)
    np.testing.assert_allclose(np.linalg.eigvals(J).real, 0.0, atol=1e-12)
    # gamma_max = 1: only the last coordinate is purely bilinear.
    J1 = np.asarray(JAC(games.adversarial(1.0), game.init(jax.random.key(1))))
    np.testing.assert_allclose(J1[[6, 13]][:, [6, 13]], [[0.0, -4.0], [4.0, 0.0]], atol=1e-14)


# --------------------------------------------------------------------------- equilibria


def _assert_stationary(game, eq):
    xi = XI(game, eq)
    np.testing.assert_allclose(flat(xi), 0.0, atol=1e-12)


def test_bilinear_equilibrium_with_offsets():
    r = _rng(11)
    A = r.normal(size=(3, 3)) + 3 * np.eye(3)
    b, c = r.normal(size=3), r.normal(size=3)
    game = games.bilinear(A, b, c)
    eq = game.equilibrium()
    # xi = (A y + b, -(A^T x + c)) = 0
    np.testing.assert_allclose(eq[0], np.linalg.solve(A.T, -c), rtol=1e-10)
    np.testing.assert_allclose(eq[1], np.linalg.solve(A, -b), rtol=1e-10)
    _assert_stationary(game, eq)


@pytest.mark.parametrize("game", [games.dirac_gan(0.0), games.dirac_gan(0.5),
                                  games.matching_pennies(2.0), games.adversarial(0.7)],
                         ids=["dirac", "dirac_gp", "pennies", "adversarial"])
def test_equilibrium_is_stationary(game):
    _assert_stationary(game, game.equilibrium())


def test_ipd_has_no_known_equilibrium():
    assert games.ipd().equilibrium() is None


# --------------------------------------------------------------------------- from_losses


def test_from_losses_three_player_game():
    J_expected = three_player_jacobian(S3, B3)
    eq_flat = np.linalg.solve(J_expected, -C3.reshape(-1))
    eq = tuple(jnp.asarray(eq_flat[2 * i:2 * i + 2]) for i in range(3))
    game = three_player_game(equilibrium=eq)
    assert game.num_players == 3

    params = game.init(jax.random.key(5))
    assert isinstance(params, tuple) and len(params) == 3
    assert all(p.shape == (2,) and p.dtype == jnp.float64 for p in params)
    th = [np.asarray(p) for p in params]

    losses = np.asarray(LOSSES(game, params))
    assert losses.shape == (3,)
    for i in range(3):
        nxt = th[(i + 1) % 3]
        expected = 0.5 * S3[i] * th[i] @ th[i] + th[i] @ B3[i] @ nxt + C3[i] @ th[i]
        np.testing.assert_allclose(losses[i], expected, rtol=1e-12)

    xi = XI(game, params)
    for i in range(3):
        np.testing.assert_allclose(xi[i], S3[i] * th[i] + B3[i] @ th[(i + 1) % 3] + C3[i],
                                   rtol=1e-12)

    J = np.asarray(JAC(game, params))
    assert J.shape == (6, 6)
    np.testing.assert_allclose(J, J_expected, atol=1e-12)

    got_eq = game.equilibrium()
    np.testing.assert_allclose(flat(got_eq), eq_flat, atol=0)
    _assert_stationary(game, got_eq)


def test_from_losses_template_init_draws_standard_normal():
    game = games.from_losses(lambda p: p[0] @ p[0], lambda p: p[1]["w"].sum(),
                             init=(np.zeros(3, np.float32), {"w": jnp.zeros((2, 2))}))
    many = jax.jit(jax.vmap(game.init))(jax.random.split(jax.random.key(2), 300))
    assert many[0].shape == (300, 3) and many[0].dtype == jnp.float32
    assert set(many[1]) == {"w"} and many[1]["w"].shape == (300, 2, 2)
    assert many[1]["w"].dtype == jnp.float64
    draws = np.concatenate([np.asarray(x, np.float64).reshape(300, -1)
                            for x in jax.tree.leaves(many)], 1)
    assert abs(draws.mean()) < 0.05 and abs(draws.std() - 1) < 0.05
    assert np.abs(np.corrcoef(draws.T) - np.eye(7)).max() < 0.25  # independent draws
    assert game.equilibrium() is None


def test_from_losses_callable_init_and_no_data():
    def init(key):
        k1, k2 = jax.random.split(key)
        return [jax.random.uniform(k1, (2,)), jax.random.uniform(k2, (2,))]  # a list is fine
    game = games.from_losses(lambda p: p[0] @ p[1], lambda p: -(p[0] @ p[1]), init=init)
    params = game.init(jax.random.key(0))
    assert isinstance(params, tuple) and len(params) == 2
    assert all(np.all((0 <= np.asarray(p)) & (np.asarray(p) < 1)) for p in params)
    xi = XI(game, params)
    np.testing.assert_allclose(xi[0], params[1], atol=0)
    np.testing.assert_allclose(xi[1], -params[0], atol=0)


def test_from_losses_data_is_a_leaf():
    game = three_player_game()
    leaves = jax.tree.leaves(game)
    assert len(leaves) == 3  # s, B, c (no equilibrium)
    # A different data value of the same shape is the same compiled program.
    f = jax.jit(lambda g, p: JAC(g, p))
    params = game.init(jax.random.key(0))
    f(game, params)
    other = three_player_game(s=2 * S3, B=-B3)
    np.testing.assert_allclose(f(other, params), three_player_jacobian(2 * S3, -B3), atol=1e-12)
    assert f._cache_size() == 1


# --------------------------------------------------------------------------- games as pytrees


def stack(trees):
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def test_vmap_over_adversarialness():
    gms = jnp.array([0.0, 0.25, 0.5, 1.0])
    p = games.adversarial(0.5).init(jax.random.key(0))
    batched = jax.jit(jax.vmap(lambda gm: JAC(games.adversarial(gm), p)))(gms)
    assert batched.shape == (4, 14, 14)
    for k, gm in enumerate(np.asarray(gms)):
        _, J_expected = _adversarial_reference(np.linspace(0, gm, 7))
        np.testing.assert_allclose(batched[k], J_expected, atol=1e-12)
        np.testing.assert_allclose(batched[k], JAC(games.adversarial(float(gm)), p),
                                   atol=1e-14)


def test_vmap_over_stacked_bilinear_games():
    r = _rng(12)
    gs = [games.bilinear(r.normal(size=(3, 2)), r.normal(size=3), r.normal(size=2))
          for _ in range(3)]
    ps = [g.init(jax.random.key(i)) for i, g in enumerate(gs)]
    batch, pbatch = stack(gs), stack(ps)
    assert batch.A.shape == (3, 3, 2)
    xis = jax.jit(jax.vmap(games.simultaneous_gradient))(batch, pbatch)
    Js = jax.jit(jax.vmap(games.jacobian))(batch, pbatch)
    eqs = jax.jit(jax.vmap(lambda g: g.equilibrium()))(batch)
    for k, (g, p) in enumerate(zip(gs, ps)):
        x, y = (np.asarray(v) for v in p)
        A, b, c = (np.asarray(v) for v in (g.A, g.b, g.c))
        np.testing.assert_allclose(xis[0][k], A @ y + b, rtol=1e-12)
        np.testing.assert_allclose(xis[1][k], -(A.T @ x + c), rtol=1e-12)
        np.testing.assert_allclose(Js[k], JAC(g, p), atol=1e-14)
        np.testing.assert_allclose(flat((eqs[0][k], eqs[1][k])), flat(g.equilibrium()),
                                   atol=1e-12)


def test_vmap_over_games_from_losses_data():
    datas = [{"s": jnp.asarray(S3 * (k + 1)), "B": jnp.asarray(B3 / (k + 1)),
              "c": jnp.asarray(C3)} for k in range(3)]
    base = three_player_game()
    gs = [games.from_losses(*base.loss_fns, init=(jnp.zeros(2),) * 3, data=d) for d in datas]
    p = base.init(jax.random.key(0))
    Js = jax.jit(jax.vmap(lambda g: JAC(g, p)))(stack(gs))
    for k in range(3):
        np.testing.assert_allclose(Js[k], three_player_jacobian(S3 * (k + 1), B3 / (k + 1)),
                                   atol=1e-12)


def test_jit_takes_games_as_arguments_without_recompiling():
    f = jax.jit(lambda game, params: games.jacobian(game, params))  # its own cache
    p = (jnp.asarray(0.3), jnp.asarray(-0.2))
    for g in [0.3, 1.0, 2.5]:
        game = games.dirac_gan(g)
        np.testing.assert_allclose(f(game, p), JAC(game, p), atol=1e-14)
        np.testing.assert_allclose(f(game, p), fd_jacobian(game, p), rtol=1e-6, atol=1e-8)
    assert f._cache_size() == 1
    h = jax.jit(lambda game, p: game.losses(p))
    ipd = games.ipd()
    q = ipd.init(jax.random.key(0))
    np.testing.assert_allclose(h(ipd, q), ipd.losses(q), rtol=1e-12)


def test_games_of_different_types_never_share_a_compiled_program():
    # DiracGAN and MatchingPennies flatten alike (one scalar leaf, no static
    # field): their tree structures must still differ, or jit's caches could hand
    # one game the other's program (it happened with register_dataclass).
    dirac, pennies = games.dirac_gan(1.3), games.matching_pennies(1.3)
    ts = jax.tree_util.tree_structure
    assert ts(dirac) != ts(pennies)
    assert ts(dirac) == ts(games.dirac_gan(0.2))
    paths = [jax.tree_util.keystr(k) for k, _ in jax.tree_util.tree_flatten_with_path(
        pennies)[0]]
    assert paths == [".scale"]
    p = (jnp.asarray(0.0), jnp.asarray(0.0))
    for _ in range(3):
        np.testing.assert_allclose(JAC(dirac, p), [[0.0, 0.5], [-0.5, 1.3]], atol=1e-14)
        np.testing.assert_allclose(JAC(pennies, p), [[0.0, -0.325], [0.325, 0.0]],
                                   atol=1e-14)


def test_games_are_frozen():
    game = games.dirac_gan(0.1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        game.gradient_penalty = 1.0


def test_import_does_not_initialise_backend():
    # Users set XLA_FLAGS (e.g. a forced host device count) after importing gamedyn.
    import subprocess
    import sys
    code = ("import games; from jax._src import xla_bridge as xb; "
            "assert not xb.backends_are_initialized(), 'games initialised the backend'")
    subprocess.run([sys.executable, "-c", code], check=True)
