"""Linear rates of the gradient-family dynamics against closed forms.

Every expected number here is computed in this file: a closed form, or the
update matrix of a dynamics derived by hand below and evaluated with numpy from
the game's defining matrices (never with ``games.jacobian``).

On a quadratic game L_i = 1/2 w^T H_i w (w = (x, y)), xi(w) = J w with the rows
of J taken from the gradient blocks: J = [H_1[x, :]; H_2[y, :]].  Each dynamics
is then a linear map of its state and ``dynamics.linearize`` must return it.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynamics
import games

# ---------------------------------------------------------------------------
# Games, each with its loss Hessians H_1, H_2 built by hand in numpy.

A23 = np.array([[1.0, 0.4, -0.3],
                [-0.2, 0.7, 0.5]])          # bilinear, x in R^2, y in R^3


def _bilinear_hessians(A):
    m, n = A.shape
    H1 = np.block([[np.zeros((m, m)), A], [A.T, np.zeros((n, n))]])
    return H1, -H1, m


def _adversarial_hessians(gammas):
    # L_1 = 1/2 (1-g) b x^2 - g a x y ;  L_2 = 1/2 (1-g) b y^2 + g a x y, a = b = linspace.
    g = np.asarray(gammas)
    k = g.size
    ab = np.linspace(0.25, 4.0, k)
    Z = np.zeros((k, k))
    H1 = np.block([[np.diag((1 - g) * ab), np.diag(-g * ab)], [np.diag(-g * ab), Z]])
    H2 = np.block([[Z, np.diag(g * ab)], [np.diag(g * ab), np.diag((1 - g) * ab)]])
    return H1, H2, k


def _quad_loss_0(params, H):
    w = jnp.concatenate(params)
    return 0.5 * w @ H[0] @ w


def _quad_loss_1(params, H):
    w = jnp.concatenate(params)
    return 0.5 * w @ H[1] @ w


def _random_quadratic():
    # A general (neither zero-sum nor potential) quadratic game, indefinite H_i.
    rng = np.random.default_rng(3)
    sym = lambda m: (m + m.T) / 2
    H1, H2 = sym(rng.normal(size=(4, 4))), sym(rng.normal(size=(4, 4)))
    z = jnp.zeros(2)
    game = games.from_losses(_quad_loss_0, _quad_loss_1, init=(z, z),
                             data=jnp.asarray(np.stack([H1, H2])), equilibrium=(z, z))
    return game, (H1, H2, 2)


ADV_GAMMAS = np.linspace(0.0, 0.7, 7)


def _linear_games():
    return {
        "bilinear_2x3": (games.bilinear(A23), _bilinear_hessians(A23)),
        "adversarial_0.7": (games.adversarial(0.7), _adversarial_hessians(ADV_GAMMAS)),
        "random_quadratic": _random_quadratic(),
    }


LINEAR_GAMES = _linear_games()


def _jac(H1, H2, m):
    return np.vstack([H1[:m], H2[m:]])


# ---------------------------------------------------------------------------
# Update matrices derived by hand.  xi = J w at the equilibrium w* = 0.

LR, BETA, GAMMA, LAM, ETA = 0.15, -0.4, 0.5, 0.8, 0.6


def _hand_matrices(H1, H2, m):
    J = _jac(H1, H2, m)
    d = J.shape[0]
    n = d - m
    I, Ix, Iy = np.eye(d), np.eye(m), np.eye(n)
    J11, J12, J21, J22 = J[:m, :m], J[:m, m:], J[m:, :m], J[m:, m:]
    As = (J - J.T) / 2                      # antisymmetric part of J
    out = {}
    out["simgd"] = I - LR * J
    # omega' = omega - lr xi(omega - lr xi(omega)) = (I - lr J + lr^2 J^2) omega
    out["extragradient"] = I - LR * J + LR**2 * J @ J
    # x' = x - lr (J11 x + J12 y);  y' = y - lr (J21 x' + J22 y)
    out["alternating"] = np.block([
        [Ix - LR * J11, -LR * J12],
        [-LR * J21 @ (Ix - LR * J11), Iy - LR * J22 + LR**2 * J21 @ J12]])
    # state [mu; omega]: mu' = beta mu - J omega;  omega' = omega + lr mu'
    mom = np.block([[BETA * I, -J], [LR * BETA * I, I - LR * J]])
    # linearize orders the state as MomentumState's fields: [omega; mu].
    perm = np.r_[d:2 * d, 0:d]
    out["momentum"] = mom[np.ix_(perm, perm)]
    # state [omega; prev_grad]: omega' = omega - 2 lr J omega + lr prev;  prev' = J omega
    out["optimistic"] = np.block([[I - 2 * LR * J, LR * I], [J, np.zeros((d, d))]])
    # xi + gamma grad(1/2 |xi|^2) = (J + gamma J^T J) omega
    out["consensus"] = I - LR * (J + GAMMA * J.T @ J)
    # xi + lam A^T xi; at the equilibrium sign(<xi,J^T xi><A^T xi,J^T xi>/d + 1/10) = +1
    out["sga_align"] = I - LR * (J + LAM * As.T @ J)
    out["sga_plain"] = out["sga_align"]
    # LOLA: player i descends H_i[i,:] w - eta (d xi_j / d theta_i)^T (H_i[j,:] w), j != i,
    # with d xi_j/d theta_i = H_j[j, i] (the opponent's gradient moving with theta_i).
    X, Y = slice(0, m), slice(m, d)
    dir_x = H1[X] - ETA * H2[Y, X].T @ H1[Y]
    dir_y = H2[Y] - ETA * H1[X, Y].T @ H2[X]
    out["lola"] = I - LR * np.vstack([dir_x, dir_y])
    return out


DYNAMICS = {
    "simgd": lambda: dynamics.simgd(LR),
    "extragradient": lambda: dynamics.extragradient(LR),
    "alternating": lambda: dynamics.alternating(LR),
    "momentum": lambda: dynamics.momentum(LR, BETA),
    "optimistic": lambda: dynamics.optimistic(LR),
    "consensus": lambda: dynamics.consensus(LR, GAMMA),
    "sga_align": lambda: dynamics.sga(LR, LAM, align=True),
    "sga_plain": lambda: dynamics.sga(LR, LAM, align=False),
    "lola": lambda: dynamics.lola(LR, ETA),
}


# ---------------------------------------------------------------------------
# A. closed forms on L = xy.

XY = games.bilinear([[1.0]])
XY_EQ = XY.equilibrium()
LRS = [0.1, 0.5, 0.9, 1.5]


@pytest.mark.parametrize("lr", LRS)
def test_simgd_rate_on_xy(lr):
    rho = dynamics.spectral_radius(XY, dynamics.simgd(lr), XY_EQ)
    np.testing.assert_allclose(rho, np.sqrt(1 + lr**2), rtol=1e-12)


@pytest.mark.parametrize("lr", LRS)
def test_extragradient_rate_on_xy(lr):
    rho = dynamics.spectral_radius(XY, dynamics.extragradient(lr), XY_EQ)
    np.testing.assert_allclose(rho, np.sqrt(1 - lr**2 + lr**4), rtol=1e-12)


@pytest.mark.parametrize("lr", LRS)
def test_alternating_rate_on_xy_is_one(lr):
    # Area preserving: det = 1 and |trace| = |2 - lr^2| < 2 for lr < 2.
    rho = dynamics.spectral_radius(XY, dynamics.alternating(lr), XY_EQ)
    np.testing.assert_allclose(rho, 1.0, rtol=1e-12)


@pytest.mark.parametrize("lr", [0.1, 0.8])
@pytest.mark.parametrize("penalty", [0.0, 0.5, 3.0])
def test_simgd_rate_on_dirac_gan(lr, penalty):
    # J(0, 0) = [[0, 1/2], [-1/2, penalty]] (f'(0) = 1/2): eig = p/2 +- sqrt(p^2/4 - 1/4).
    lam = penalty / 2 + np.sqrt(complex(penalty**2 / 4 - 0.25)) * np.array([1, -1])
    expected = np.max(np.abs(1 - lr * lam))
    if penalty == 0.0:
        np.testing.assert_allclose(expected, np.sqrt(1 + lr**2 / 4))   # |1 - lr (+-i/2)|
    g = games.dirac_gan(penalty)
    rho = dynamics.spectral_radius(g, dynamics.simgd(lr), g.equilibrium())
    np.testing.assert_allclose(rho, expected, rtol=1e-12)


# ---------------------------------------------------------------------------
# A. linearize equals the update matrices derived by hand.

@pytest.mark.parametrize("dyn_name", list(DYNAMICS))
@pytest.mark.parametrize("game_name", ["bilinear_2x3", "random_quadratic"])
def test_linearize_matches_hand_derived_matrix(game_name, dyn_name):
    game, hess = LINEAR_GAMES[game_name]
    expected = _hand_matrices(*hess)[dyn_name]
    got = np.asarray(dynamics.linearize(game, DYNAMICS[dyn_name](), game.equilibrium()))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_hand_built_hessians_match_the_games():
    # The hand-built Hessians describe the games used above: compare losses at a point.
    rng = np.random.default_rng(0)
    for game, (H1, H2, m) in LINEAR_GAMES.values():
        w = rng.normal(size=H1.shape[0])
        got = np.asarray(game.losses((jnp.asarray(w[:m]), jnp.asarray(w[m:]))))
        np.testing.assert_allclose(got, [0.5 * w @ H1 @ w, 0.5 * w @ H2 @ w], atol=1e-12)


def test_sga_sign_rule_off_equilibrium():
    # One SGA step at points where Balduzzi et al.'s alignment sign is +1 and -1.
    game, (H1, H2, m) = LINEAR_GAMES["random_quadratic"]
    J = _jac(H1, H2, m)
    As = (J - J.T) / 2
    d = J.shape[0]
    step_align = jax.jit(dynamics.sga(LR, LAM, align=True).step)
    step_plain = jax.jit(dynamics.sga(LR, LAM, align=False).step)
    init = dynamics.sga(LR, LAM).init
    rng = np.random.default_rng(1)
    signs = set()
    for _ in range(12):
        w = rng.normal(size=d)
        xi = J @ w
        grad_h = J.T @ xi
        sign = np.sign((xi @ grad_h) * ((As.T @ xi) @ grad_h) / d + 0.1)
        signs.add(sign)
        p = (jnp.asarray(w[:m]), jnp.asarray(w[m:]))
        for step, lam in ((step_align, LAM * sign), (step_plain, LAM)):
            got = np.concatenate(step(game, init(p)).params)
            np.testing.assert_allclose(got, w - LR * (xi + lam * As.T @ xi), atol=1e-12)
    assert signs == {-1.0, 1.0}, "test points should exercise both signs"


# ---------------------------------------------------------------------------
# A. simulated contraction per step equals the spectral radius.

CONTRACTION_T = 1000
A22 = np.array([[1.0, 0.4], [-0.3, 0.7]])
CONTRACTION_GAMES = {
    "bilinear_2x2": (games.bilinear(A22), _bilinear_hessians(A22)),
    "adversarial_0.9": (games.adversarial(0.9),
                        _adversarial_hessians(np.linspace(0.0, 0.9, 7))),
}


@pytest.mark.parametrize("dyn_name", list(DYNAMICS))
@pytest.mark.parametrize("game_name", list(CONTRACTION_GAMES))
def test_simulated_contraction_matches_spectral_radius(game_name, dyn_name):
    game, hess = CONTRACTION_GAMES[game_name]
    rho = np.max(np.abs(np.linalg.eigvals(_hand_matrices(*hess)[dyn_name])))
    assert 0.6 < rho < 1.6        # 1000 steps stay within float64 range
    p0 = game.init(jax.random.key(0))
    traj = dynamics.simulate(game, DYNAMICS[dyn_name](), p0, CONTRACTION_T, metrics=())
    flat = np.concatenate([np.asarray(x) for x in traj.params], axis=1)   # (T+1, d)
    dist = np.linalg.norm(flat, axis=1)                                  # equilibrium 0
    half = CONTRACTION_T // 2
    # Late-window ratio: transients of the other modes have died out by step T/2.
    per_step = (dist[-1] / dist[half]) ** (1.0 / (CONTRACTION_T - half))
    assert abs(per_step - rho) < 1e-3, (per_step, rho)


# ---------------------------------------------------------------------------
# Alternating heavy-ball momentum on L = xy (Gidel et al. 2019).

def test_alternating_negative_momentum_rate_is_the_characteristic_root():
    # Player x steps first, y sees the new x:
    #   x_{t+1} - x_t = beta (x_t - x_{t-1}) - lr y_t
    #   y_{t+1} - y_t = beta (y_t - y_{t-1}) + lr x_{t+1}
    # With p(z) = z^2 - (1 + beta) z + beta, the z-transform gives
    #   p(z) X = -lr z Y  and  p(z) Y = lr z^2 X,  so  p(z)^2 + lr^2 z^3 = 0:
    # the rate is the largest modulus of the four roots.
    lr, beta = 0.5, -0.5
    p = np.array([1.0, -(1 + beta), beta])
    char = np.polyadd(np.polymul(p, p), lr**2 * np.array([1.0, 0, 0, 0]))
    expect = np.max(np.abs(np.roots(char)))
    game = games.bilinear(jnp.eye(1))
    rate = float(dynamics.spectral_radius(game, dynamics.momentum(lr, beta, alternating=True),
                                          game.equilibrium()))
    assert rate == pytest.approx(expect, abs=1e-12)
    assert rate < 1
    # ... where simultaneous negative momentum diverges and alternating GD cycles.
    simultaneous = float(dynamics.spectral_radius(game, dynamics.momentum(lr, beta),
                                                  game.equilibrium()))
    assert simultaneous > 1
    assert float(dynamics.spectral_radius(game, dynamics.alternating(lr),
                                          game.equilibrium())) == pytest.approx(1, abs=1e-12)
    # and a run contracts at that rate
    start = (jnp.array([0.6]), jnp.array([-0.8]))
    d = np.asarray(dynamics.simulate(game, dynamics.momentum(lr, beta, alternating=True),
                                     start, 400, metrics=("distance",)).metrics["distance"])
    fitted = np.exp(np.polyfit(np.arange(200, 400), np.log(d[200:400]), 1)[0])
    assert fitted == pytest.approx(expect, abs=2e-3)
