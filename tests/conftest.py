import os

os.environ.setdefault("XLA_FLAGS", "")
import jax  # noqa: E402

# Numerical checks run in double precision.
jax.config.update("jax_enable_x64", True)
