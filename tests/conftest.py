import atexit
import os
import shutil
import tempfile

# Compile time dominates the suite; for the small programs tests run, XLA's
# backend (LLVM) optimisations cost more compile time than they save run time.
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_backend_optimization_level=0").strip()
# One persistent compilation cache for the whole session, shared with the
# subprocesses the CLI tests start (they inherit the environment): programs that
# lower to the same HLO (the same command run many times, equal games built from
# different lambdas) compile once.
_CACHE = tempfile.mkdtemp(prefix="gamedyn-test-jax-cache-")
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
import jax  # noqa: E402

# Numerical checks run in double precision.
jax.config.update("jax_enable_x64", True)
