"""Independent NumPy references written from the update equations of complex momentum
(Lorraine, Acuna, Vicol & Duvenaud 2022), not from gamedyn."""

import numpy as np


def augmented_simultaneous(J, a, b):
    """R for x = [Re mu; Im mu; omega - omega*] under simultaneous complex momentum."""
    J = np.asarray(J, dtype=float)
    d = J.shape[0]
    I, Z = np.eye(d), np.zeros((d, d))
    return np.block([[b.real * I, -b.imag * I, -J],
                     [b.imag * I, b.real * I, Z],
                     [(a * b).real * I, -(a * b).imag * I, I - np.real(a) * J]])


def complex_momentum_step(J, w, mu, a, b, blocks=None):
    """One step of complex momentum on xi(w) = J w; players (index blocks) update
    in turn when ``blocks`` is given, each seeing the earlier players' new w."""
    w, mu = np.array(w, dtype=float), np.array(mu, dtype=complex)
    for idx in blocks if blocks is not None else [np.arange(len(w))]:
        g = J[idx] @ w
        mu[idx] = b * mu[idx] - g
        w[idx] = w[idx] + (a * mu[idx]).real
    return w, mu
