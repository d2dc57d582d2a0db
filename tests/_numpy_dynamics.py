"""Independent NumPy float64 references for every dynamics family, and the Dirac GAN.

Written from the documented update equations (the dynamics' docstrings), not from
gamedyn's JAX code.  Every reference runs on a NumPy game object with

* ``blocks``: one index array per player into the flat parameter vector w,
* ``loss_grads(w)``: G with G[i, k] = dL_i/dw_k (all players' losses, all params),
* ``xi(w)``: the simultaneous gradient, xi[b_i] = G[i, b_i],
* ``jacobian(w)``: J = d xi / d w,

and returns the trajectory ``W`` of shape (steps + 1, d), W[0] = the start.
Buffers are float64 or complex128 throughout.
"""

import numpy as np

__all__ = [
    "DiracGAN", "simgd", "alternating", "momentum", "extragradient", "optimistic",
    "consensus", "sga", "lola", "per_player", "NumpyAdam", "NumpySGD", "complex_momentum",
    "aggregated_momentum", "recurrent_momentum", "complex_adam",
]


# --------------------------------------------------------------------------- game


def _logistic(t):
    return 1.0 / (1.0 + np.exp(-t))


class DiracGAN:
    """The Dirac GAN in float64, w = (theta, psi):

    L_G = f(psi theta),  L_D = -f(psi theta) - f(0) + (gamma/2) psi^2,
    f(t) = -log(1 + e^-t),  f'(t) = 1/(1 + e^t) = s(-t),  f''(t) = -s(t) s(-t).

    With u = psi theta:
      dL_G/dtheta = psi f'(u)             dL_G/dpsi = theta f'(u)
      dL_D/dtheta = -psi f'(u)            dL_D/dpsi = -theta f'(u) + gamma psi
      xi = (psi f'(u), -theta f'(u) + gamma psi)
      J  = [[psi^2 f''(u),            f'(u) + u f''(u)],
            [-f'(u) - u f''(u),       gamma - theta^2 f''(u)]]
    """

    blocks = (np.array([0]), np.array([1]))

    def __init__(self, gamma):
        self.gamma = float(gamma)

    @staticmethod
    def f(t):
        return -np.logaddexp(0.0, -t)

    @staticmethod
    def df(t):
        return 1.0 / (1.0 + np.exp(t))

    @staticmethod
    def d2f(t):
        return -_logistic(t) * _logistic(-t)

    def losses(self, w):
        theta, psi = w
        lg = self.f(psi * theta)
        return np.array([lg, -lg - self.f(0.0) + 0.5 * self.gamma * psi**2])

    def loss_grads(self, w):
        theta, psi = w
        fp = self.df(psi * theta)
        return np.array([[psi * fp, theta * fp],
                         [-psi * fp, -theta * fp + self.gamma * psi]])

    def xi(self, w):
        theta, psi = w
        fp = self.df(psi * theta)
        return np.array([psi * fp, -theta * fp + self.gamma * psi])

    def jacobian(self, w):
        theta, psi = w
        u = psi * theta
        fp, fpp = self.df(u), self.d2f(u)
        return np.array([[psi**2 * fpp, fp + u * fpp],
                         [-fp - u * fpp, self.gamma - theta**2 * fpp]])


def _player_gradient(game, w, i):
    b = game.blocks[i]
    return game.loss_grads(w)[i, b]


def _start(w0, steps):
    w = np.array(w0, dtype=np.float64)
    W = np.empty((steps + 1,) + w.shape, np.float64)
    W[0] = w
    return w, W


# --------------------------------------------------------------------------- plain gradient


def simgd(game, w0, steps, lr):
    """omega <- omega - lr xi(omega)."""
    w, W = _start(w0, steps)
    for t in range(steps):
        w = w - lr * game.xi(w)
        W[t + 1] = w
    return W


def alternating(game, w0, steps, lr):
    """Players in order: theta_i <- theta_i - lr dL_i/dtheta_i at the point holding
    the earlier players' new parameters."""
    w, W = _start(w0, steps)
    for t in range(steps):
        w = w.copy()
        for i, b in enumerate(game.blocks):
            w[b] = w[b] - lr * _player_gradient(game, w, i)
        W[t + 1] = w
    return W


def extragradient(game, w0, steps, lr):
    """omega' = omega - lr xi(omega);  omega <- omega - lr xi(omega')."""
    w, W = _start(w0, steps)
    for t in range(steps):
        look = w - lr * game.xi(w)
        w = w - lr * game.xi(look)
        W[t + 1] = w
    return W


def optimistic(game, w0, steps, lr):
    """omega <- omega - 2 lr xi_t + lr xi_{t-1}; the first step uses xi_t twice."""
    w, W = _start(w0, steps)
    prev = None
    for t in range(steps):
        g = game.xi(w)
        w = w - 2 * lr * g + lr * (g if prev is None else prev)
        prev = g
        W[t + 1] = w
    return W


def consensus(game, w0, steps, lr, gamma):
    """omega <- omega - lr (xi + gamma J^T xi)."""
    w, W = _start(w0, steps)
    for t in range(steps):
        g, J = game.xi(w), game.jacobian(w)
        w = w - lr * (g + gamma * (J.T @ g))
        W[t + 1] = w
    return W


def sga(game, w0, steps, lr, lam, align, signs=None):
    """omega <- omega - lr (xi + lam' A^T xi), A = (J - J^T)/2; with ``align``
    lam' = lam sign(<xi, J^T xi> <A^T xi, J^T xi> / d + 0.1), else lam' = lam.
    ``signs``, when a list, receives each step's sign (to see both occur)."""
    w, W = _start(w0, steps)
    d = w.size
    for t in range(steps):
        g, J = game.xi(w), game.jacobian(w)
        A = 0.5 * (J - J.T)
        at_g, jt_g = A.T @ g, J.T @ g
        lam_t = lam
        if align:
            s = np.sign((g @ jt_g) * (at_g @ jt_g) / d + 0.1)
            lam_t = lam * s
            if signs is not None:
                signs.append(s)
        w = w - lr * (g + lam_t * at_g)
        W[t + 1] = w
    return W


def lola(game, w0, steps, lr, eta):
    """Exact LOLA, all players simultaneously: player i descends
    dL_i/dtheta_i - eta sum_{j != i} (dL_i/dtheta_j) . d(xi_j)/d(theta_i)."""
    w, W = _start(w0, steps)
    for t in range(steps):
        G, J = game.loss_grads(w), game.jacobian(w)
        new = w.copy()
        for i, bi in enumerate(game.blocks):
            direction = G[i, bi].copy()
            for j, bj in enumerate(game.blocks):
                if j != i:
                    # sum_k in b_j  dL_i/dw_k * d xi_k / d theta_i
                    direction -= eta * (G[i, bj] @ J[np.ix_(bj, bi)])
            new[bi] = w[bi] - lr * direction
        w = new
        W[t + 1] = w
    return W


# --------------------------------------------------------------------------- momentum family


def momentum(game, w0, steps, lr, beta, alternating=False):
    """Heavy ball, real buffer: mu <- beta mu - xi; omega <- omega + lr mu.  With
    ``alternating`` the players go in order, each with its own buffer (its slice
    of mu), each seeing the earlier players' new parameters."""
    w, W = _start(w0, steps)
    mu = np.zeros_like(w)
    for t in range(steps):
        if alternating:
            w = w.copy()
            for i, b in enumerate(game.blocks):
                mu[b] = beta * mu[b] - _player_gradient(game, w, i)
                w[b] = w[b] + lr * mu[b]
        else:
            mu = beta * mu - game.xi(w)
            w = w + lr * mu
        W[t + 1] = w
    return W


def complex_momentum(game, w0, steps, lr, beta, alternating=False):
    """mu <- beta mu - xi (complex128 buffer); omega <- omega + Re(lr mu); lr may
    be complex.  Alternating as for ``momentum``."""
    w, W = _start(w0, steps)
    mu = np.zeros(w.shape, np.complex128)
    lr, beta = np.complex128(lr), np.complex128(beta)
    for t in range(steps):
        if alternating:
            w = w.copy()
            for i, b in enumerate(game.blocks):
                mu[b] = beta * mu[b] - _player_gradient(game, w, i)
                w[b] = w[b] + (lr * mu[b]).real
        else:
            mu = beta * mu - game.xi(w)
            w = w + (lr * mu).real
        W[t + 1] = w
    return W


def aggregated_momentum(game, w0, steps, lrs, betas):
    """K complex buffers: mu_k <- beta_k mu_k - xi; omega <- omega + Re(sum_k lr_k mu_k)."""
    w, W = _start(w0, steps)
    lrs = np.asarray(lrs, np.complex128)
    betas = np.asarray(betas, np.complex128)
    mus = [np.zeros(w.shape, np.complex128) for _ in betas]
    for t in range(steps):
        g = game.xi(w)
        step = np.zeros(w.shape, np.complex128)
        for k in range(len(betas)):
            mus[k] = betas[k] * mus[k] - g
            step += lrs[k] * mus[k]
        w = w + step.real
        W[t + 1] = w
    return W


def recurrent_momentum(game, w0, steps, B, a):
    """K real buffers M_k: M_k <- sum_l B[k, l] M_l - [k == 0] xi;
    omega <- omega + sum_k a_k M_k."""
    w, W = _start(w0, steps)
    B, a = np.asarray(B, np.float64), np.asarray(a, np.float64)
    K = B.shape[0]
    M = [np.zeros_like(w) for _ in range(K)]
    for t in range(steps):
        g = game.xi(w)
        new = []
        for k in range(K):
            m = sum(B[k, l] * M[l] for l in range(K))
            if k == 0:
                m = m - g
            new.append(m)
        M = new
        w = w + sum(a[k] * M[k] for k in range(K))
        W[t + 1] = w
    return W


def complex_adam(game, w0, steps, lr, beta1, beta2=0.999, eps=1e-8):
    """mu <- beta1 mu - (1 - beta1) xi (complex128); v <- beta2 v + (1 - beta2) xi^2;
    mu_hat = mu / (1 - beta1^t), v_hat = v / (1 - beta2^t);
    omega <- omega + lr Re(mu_hat) / (sqrt(v_hat) + eps)."""
    w, W = _start(w0, steps)
    b1, b2 = np.complex128(beta1), np.float64(beta2)
    mu = np.zeros(w.shape, np.complex128)
    v = np.zeros_like(w)
    for t in range(1, steps + 1):
        g = game.xi(w)
        mu = b1 * mu - (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        mu_hat = mu / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        w = w + lr * mu_hat.real / (np.sqrt(v_hat) + eps)
        W[t] = w
    return W


# --------------------------------------------------------------------------- optax-style


class NumpySGD:
    """update = -lr g (optax.sgd without momentum)."""

    def __init__(self, lr):
        self.lr = float(lr)

    def init(self, x):
        return None

    def update(self, g, state):
        return -self.lr * g, state


class NumpyAdam:
    """Adam (Kingma & Ba) with optax.adam's defaults: m <- b1 m + (1 - b1) g,
    v <- b2 v + (1 - b2) g^2, update = -lr m_hat / (sqrt(v_hat) + eps), eps_root = 0."""

    def __init__(self, lr, b1=0.9, b2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps = float(lr), float(b1), float(b2), float(eps)

    def init(self, x):
        return (np.zeros_like(x), np.zeros_like(x), 0)

    def update(self, g, state):
        m, v, t = state
        t += 1
        m = self.b1 * m + (1 - self.b1) * g
        v = self.b2 * v + (1 - self.b2) * g**2
        m_hat = m / (1 - self.b1**t)
        v_hat = v / (1 - self.b2**t)
        return -self.lr * m_hat / (np.sqrt(v_hat) + self.eps), (m, v, t)


def per_player(game, w0, steps, optimizer, alternating=False):
    """One optimiser state per player on its own gradient dL_i/dtheta_i; all from
    the same point, or (``alternating``) in player order, each seeing the earlier
    players' new parameters.  ``optimizer`` is a NumpySGD / NumpyAdam."""
    w, W = _start(w0, steps)
    states = [optimizer.init(w[b]) for b in game.blocks]
    for t in range(steps):
        G = None if alternating else game.loss_grads(w)
        new = w.copy()
        for i, b in enumerate(game.blocks):
            g = _player_gradient(game, new, i) if alternating else G[i, b]
            delta, states[i] = optimizer.update(g, states[i])
            new[b] = new[b] + delta
        w = new
        W[t + 1] = w
    return W


# --------------------------------------------------------------------------- nested


def stackelberg_neumann(game, w0, steps, leader_lr, follower_lr, inner_steps, alpha,
                        terms):
    """Leader theta (player 0), follower psi (player 1).  Each step the follower takes
    ``inner_steps`` gradient steps on its own loss with theta fixed; then, with
    A = d xi_psi / d psi and B = d xi_psi / d theta at the new point, the leader
    descends dL_G/dtheta - u B, u = alpha sum_{j < terms} (1 - alpha A)^j dL_G/dpsi
    (the IFT hypergradient with the Neumann series for A^-1)."""
    w, W = _start(w0, steps)
    for t in range(steps):
        for _ in range(inner_steps):
            w[1] = w[1] - follower_lr * game.xi(w)[1]
        J, g = game.jacobian(w), game.loss_grads(w)[0]
        A, B = J[1, 1], J[1, 0]
        cur = acc = g[1]
        for _ in range(terms - 1):
            cur = cur - alpha * A * cur
            acc = acc + cur
        w[0] = w[0] - leader_lr * (g[0] - alpha * acc * B)
        W[t + 1] = w
    return W


def hypernetwork_linear(game, w0, steps, leader_lr, net_lr, sigma, noise):
    """Joint hypernetwork best response with a linear hypernetwork
    psi(theta) = b + W (theta - theta_0) (leader theta = player 0, follower psi =
    player 1), centred at the start theta_0, started at b = psi_0, W = 0.
    ``noise[t]`` holds step t's standard-normal draws: theta_s = theta + sigma z_s.
    Each step: phi <- phi - net_lr mean_s dL_D/dphi at (theta_s, psi(theta_s)), then
    theta <- theta - leader_lr (dL_G/dtheta + dL_G/dpsi W) at (theta, psi(theta))."""
    w, W = _start(w0, steps)
    b, a, c = w[1], 0.0, w[0]
    for t in range(steps):
        lam = w[0]
        gb = ga = 0.0
        for s in lam + sigma * noise[t]:
            d = game.loss_grads(np.array([s, b + a * (s - c)]))[1, 1]
            gb, ga = gb + d, ga + d * (s - c)
        b, a = b - net_lr * gb / len(noise[t]), a - net_lr * ga / len(noise[t])
        g = game.loss_grads(np.array([lam, b + a * (lam - c)]))[0]
        lam = lam - leader_lr * (g[0] + g[1] * a)
        w = np.array([lam, b + a * (lam - c)])
        W[t + 1] = w
    return W
