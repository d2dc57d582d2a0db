"""A GAN on a 2-D mixture of Gaussians: a ring of 8 or a 4 x 4 grid of 16 modes.

Data: equal-weight Gaussians with standard deviation ``std`` (0.02 by default
for both kinds; these layouts and the default are gamedyn's choices, in the
style of the synthetic mode-collapse benchmarks of Srivastava et al. 2017)
around

* ``"ring8"``: 8 centres on a circle of radius 2, (2 cos(2 pi k / 8), 2 sin(2 pi k / 8));
* ``"grid16"``: the 16 centres {-3, -1, 1, 3}^2 (spacing 2).

``gamedyn gan`` (experiments/gan.py) passes ``std=0.05`` for ``"ring8"``, a common
wider choice for the ring, and keeps 0.02 for ``"grid16"``; it also uses larger
tanh networks than the defaults here (see ``experiments.gan.NETWORK``).

Players: 0 is the generator G (latent z ~ N(0, I) -> R^2), 1 the discriminator
D (R^2 -> a logit), both small MLPs by default.  Losses are the standard
non-saturating GAN losses of Goodfellow et al. (2014) on the current minibatch
of real samples x_1..x_B and latent draws z_1..z_B, with s the logistic sigmoid:

    L_D = -1/B sum_b log s(D(x_b)) - 1/B sum_b log(1 - s(D(G(z_b))))
        =  1/B sum_b softplus(-D(x_b)) + 1/B sum_b softplus(D(G(z_b)))
    L_G = -1/B sum_b log s(D(G(z_b)))  =  1/B sum_b softplus(-D(G(z_b)))

The minibatch is part of the game (array leaves), so a training loop draws a
new game each step with ``game.resample(key)`` and keeps the
``Dynamics.step(game, state)`` interface, inside ``lax.scan`` and under ``vmap``.

Quality (after Srivastava et al. 2017): a sample is *high quality* when it lies
within 3 std of its nearest mode; a mode is *covered* (gamedyn's threshold) when
at least ``min_share`` (1 % by default) of all samples are high quality and
nearest to it.

References:
  Goodfellow, Pouget-Abadie, Mirza, Xu, Warde-Farley, Ozair, Courville & Bengio
  (2014), "Generative Adversarial Nets", NeurIPS (the losses).
  Srivastava, Valkov, Russell, Gutmann & Sutton (2017), "VEEGAN: Reducing Mode
  Collapse in GANs using Implicit Variational Learning", NeurIPS (the metrics).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from games._base import Game, register_game

__all__ = ["gan_mixture", "GANMixture", "mixture_modes", "KINDS"]

KINDS = ("ring8", "grid16")


def mixture_modes(kind: str) -> np.ndarray:
    """The mode centres of ``kind`` as a float64 NumPy array of shape (K, 2)."""
    if kind == "ring8":
        angle = 2 * np.pi * np.arange(8) / 8
        return np.stack([2 * np.cos(angle), 2 * np.sin(angle)], axis=1)
    if kind == "grid16":
        axis = np.array([-3.0, -1.0, 1.0, 3.0])
        xx, yy = np.meshgrid(axis, axis, indexing="ij")
        return np.stack([xx.ravel(), yy.ravel()], axis=1)
    raise ValueError(f"unknown mixture kind {kind!r}; choose from {', '.join(KINDS)}.")


def _per_example(apply, params, x):
    # vmap over the leading axis, so user networks need only handle one input.
    return jax.vmap(lambda xi: apply(params, xi))(x)


@register_game
class GANMixture(Game):
    """Generator (player 0) against discriminator (player 1) on a 2-D mixture.

    Fields: ``real`` (B, 2) and ``noise`` (B, latent_dim), the current
    minibatch; ``modes`` (K, 2) and ``std`` (scalar), the data distribution;
    ``generator`` and ``discriminator`` (static), pairs ``(init, apply)`` such as
    ``nets.mlp`` returns; ``kind`` (static), the mixture's name.
    """

    real: jax.Array
    noise: jax.Array
    modes: jax.Array
    std: jax.Array
    generator: Any          # static: (init, apply), e.g. nets.mlp(...)
    discriminator: Any      # static
    kind: str               # static
    num_players = 2
    _static = ("generator", "discriminator", "kind")

    @property
    def batch_size(self) -> int:
        return self.real.shape[-2]

    @property
    def latent_dim(self) -> int:
        return self.noise.shape[-1]

    def discriminate(self, params_d, x):
        """Discriminator logits D(x) for a batch x of shape (n, 2) -> (n,)."""
        d = _per_example(self.discriminator.apply, params_d, x)
        return d.reshape(d.shape[0])

    def losses(self, params):
        """[L_G, L_D], the non-saturating losses on the current minibatch (module docstring)."""
        params_g, params_d = params
        fake = _per_example(self.generator.apply, params_g, self.noise)
        d_real = self.discriminate(params_d, self.real)
        d_fake = self.discriminate(params_d, fake)
        loss_d = jnp.mean(jax.nn.softplus(-d_real)) + jnp.mean(jax.nn.softplus(d_fake))
        loss_g = jnp.mean(jax.nn.softplus(-d_fake))
        return jnp.stack([loss_g, loss_d])

    def init(self, key):
        kg, kd = jax.random.split(key)
        return (self.generator.init(kg), self.discriminator.init(kd))

    def equilibrium(self):
        return None

    def sample_data(self, key, n: int):
        """``n`` samples of the data distribution, shape (n, 2), in the dtype of ``real``."""
        return _draw(self.modes, self.std, key, int(n), 0, self.real.dtype.name)[0]

    def sample_noise(self, key, n: int):
        """``n`` latent draws z ~ N(0, I), shape (n, latent_dim)."""
        return jax.random.normal(key, (n, self.latent_dim), self.noise.dtype)

    def generate(self, params, key, n: int):
        """``n`` generator samples G(z), shape (n, 2); ``params`` is the game's Params."""
        return _per_example(self.generator.apply, params[0], self.sample_noise(key, n))

    def resample(self, key) -> GANMixture:
        """The same game with a fresh minibatch (same shapes, dtypes and tree structure)."""
        real, noise = _draw(self.modes, self.std, key, self.batch_size, self.latent_dim,
                            self.real.dtype.name)
        return dataclasses.replace(self, real=real, noise=noise)

    def quality(self, samples, *, min_share: float = 0.01) -> dict:
        """Mode coverage and sample quality of ``samples`` (n, 2).

        Returns ``{"modes_covered": int32 scalar, "high_quality": float scalar}``:
        the number of modes with at least ``min_share * n`` (and at least one)
        high-quality samples nearest to them, and the share of high-quality samples
        (within 3 std of the nearest mode).  Non-finite samples are never high
        quality.  Pure JAX, so it works under ``jit`` and ``vmap``; call ``int``
        and ``float`` on the values for Python numbers.
        """
        samples = jnp.asarray(samples)
        if samples.ndim != 2 or samples.shape[-1] != 2:
            raise ValueError(f"samples must have shape (n, 2); got {samples.shape}.")
        if not (isinstance(min_share, (int, float)) and 0 <= min_share <= 1):
            raise ValueError(f"min_share must be a number in [0, 1]; got {min_share!r}.")
        need = max(1, math.ceil(min_share * samples.shape[0]))
        covered, share = _quality(samples, self.modes, self.std, need)
        return {"modes_covered": covered, "high_quality": share}


@functools.partial(jax.jit, static_argnums=3)
def _quality(samples, modes, std, need):
    modes = modes.astype(jnp.result_type(samples.dtype, modes.dtype))
    dist = jnp.linalg.norm(samples[:, None, :] - modes[None, :, :], axis=-1)   # (n, K)
    nearest = jnp.argmin(jnp.where(jnp.isnan(dist), jnp.inf, dist), axis=1)
    good = jnp.min(dist, axis=1) <= 3 * std                # NaN compares False
    counts = jnp.sum(good[:, None] & (nearest[:, None] == jnp.arange(modes.shape[0])), axis=0)
    return jnp.sum(counts >= need).astype(jnp.int32), jnp.mean(good.astype(samples.dtype))


@functools.partial(jax.jit, static_argnums=(3, 4, 5))
def _draw(modes, std, key, n, latent_dim, dtype):
    """``n`` data samples and ``n`` latent draws from one key (two PRNG calls)."""
    kc, kn = jax.random.split(key)
    k = modes.shape[0]
    which = jnp.minimum(jnp.floor(jax.random.uniform(kc, (n,), jnp.float32) * k), k - 1)
    z = jax.random.normal(kn, (n, 2 + latent_dim), dtype)
    real = modes[which.astype(jnp.int32)].astype(dtype) + std.astype(dtype) * z[:, :2]
    return real, z[:, 2:]

def _check_net(name: str, net, n_in: int, n_out_ok, hint: str):
    if not (hasattr(net, "init") and hasattr(net, "apply")):
        raise TypeError(f"{name} must have init(key) and apply(params, x), as nets.mlp "
                        f"returns; got {type(net).__name__}.")
    try:
        hash(net)
    except TypeError:
        raise TypeError(f"{name} must be hashable (it is a static field of the game); "
                        f"nets.mlp networks are.") from None
    params = jax.eval_shape(net.init, jax.random.key(0))
    out = jax.eval_shape(net.apply, params, jax.ShapeDtypeStruct((n_in,), jnp.float32))
    if out.shape not in n_out_ok:
        raise ValueError(f"{name} maps an input of shape ({n_in},) to shape {out.shape}; "
                         f"{hint}")


def gan_mixture(kind: str = "ring8", *, generator=None, discriminator=None,
                latent_dim: int = 16, batch_size: int = 128, hidden: int = 64,
                std: float = 0.02, dtype=jnp.float32, key=None) -> GANMixture:
    """A GAN on a ring of 8 (``"ring8"``) or grid of 16 (``"grid16"``) Gaussians.

    Player 0 is the generator G, player 1 the discriminator D (a logit).  On
    the current minibatch of real samples x_b and latent draws z_b (b = 1..B),
    with s the logistic sigmoid, the non-saturating losses of Goodfellow et al.
    (2014) are::

        L_G = -1/B sum_b log s(D(G(z_b)))
        L_D = -1/B sum_b log s(D(x_b)) - 1/B sum_b log(1 - s(D(G(z_b))))

    ``game.resample(key)`` returns the same game with a fresh minibatch; the
    ideal generator reproduces the mixture (no closed-form equilibrium:
    ``equilibrium()`` is None).  ``game.quality(samples)`` counts covered modes
    and the share of high-quality samples (module docstring).

    Args:
      kind: ``"ring8"`` or ``"grid16"`` (see the module docstring).
      generator: ``(init, apply)`` mapping (latent_dim,) -> (2,); default
        ``nets.mlp((latent_dim, hidden, hidden, 2))`` with ReLU.
      discriminator: ``(init, apply)`` mapping (2,) -> (1,) or (); default
        ``nets.mlp((2, hidden, hidden, 1))`` with ReLU.
      latent_dim, batch_size: the latent size and minibatch size.
      hidden: width of the default networks' two hidden layers.
      std: the standard deviation of every mode.
      dtype: floating dtype of the data and default networks (float32 also under x64).
      key: PRNG key of the first minibatch (default ``jax.random.key(0)``).

    Params: ``(params_G, params_D)``, whatever the networks' ``init`` returns;
    with the defaults, ``nets.mlp`` lists ``[(W_1, b_1), (W_2, b_2), (W_3, b_3)]``
    with W shapes (latent_dim, hidden), (hidden, hidden), (hidden, 2) for G and
    (2, hidden), (hidden, hidden), (hidden, 1) for D.  Game fields: ``real``
    (batch_size, 2), ``noise`` (batch_size, latent_dim), ``modes`` (K, 2) with
    K = 8 or 16, ``std`` (0-d).

    >>> import jax
    >>> game = gan_mixture("ring8", batch_size=32)
    >>> params = game.init(jax.random.key(1))
    >>> game.losses(params).shape, game.resample(jax.random.key(2)).real.shape
    ((2,), (32, 2))
    >>> int(game.quality(game.sample_data(jax.random.key(3), 800))["modes_covered"])
    8

    References:
      Goodfellow, Pouget-Abadie, Mirza, Xu, Warde-Farley, Ozair, Courville &
      Bengio (2014), "Generative Adversarial Nets", NeurIPS.  Srivastava,
      Valkov, Russell, Gutmann & Sutton (2017), "VEEGAN: Reducing Mode Collapse
      in GANs using Implicit Variational Learning", NeurIPS.
    """
    from nets import mlp

    modes = mixture_modes(kind) if isinstance(kind, str) else None
    if modes is None:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}.")
    for name, v in (("latent_dim", latent_dim), ("batch_size", batch_size), ("hidden", hidden)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive int; got {v!r}.")
    if isinstance(std, bool) or not isinstance(std, (int, float, np.floating)) \
            or not (math.isfinite(std) and std > 0):
        raise ValueError(f"std must be a positive finite number; got {std!r}.")
    dt = jnp.dtype(dtype)
    if not jnp.issubdtype(dt, jnp.floating):
        raise TypeError(f"dtype must be a real floating dtype such as jnp.float32; got {dt}.")
    if generator is None:
        generator = mlp((latent_dim, hidden, hidden, 2), dtype=dt)
    if discriminator is None:
        discriminator = mlp((2, hidden, hidden, 1), dtype=dt)
    _check_net("generator", generator, int(latent_dim), [(2,)],
               f"it must map the latent vector (latent_dim={latent_dim}) to a 2-D point.")
    _check_net("discriminator", discriminator, 2, [(1,), ()],
               "it must map a 2-D point to one logit, shape (1,) or ().")
    key = jax.random.key(0) if key is None else key
    empty = GANMixture(jnp.zeros((int(batch_size), 2), dt),
                       jnp.zeros((int(batch_size), int(latent_dim)), dt),
                       jnp.asarray(modes, dt), jnp.asarray(std, dt), generator,
                       discriminator, kind)
    return empty.resample(key)
