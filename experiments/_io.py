"""Atomic, pickle-free output files: JSON, NPZ and PNG."""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["write_json", "write_npz", "write_png", "jsonable"]

_UMASK = os.umask(0)
os.umask(_UMASK)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)     # mkstemp makes 0600; honour the umask
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def jsonable(obj):
    """Plain JSON types; non-finite floats become None (JSON has no NaN/inf)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray) or hasattr(obj, "__array__"):
        arr = np.asarray(obj)
        return jsonable(arr.tolist()) if arr.ndim else jsonable(arr.item())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, complex):
        return {"re": jsonable(obj.real), "im": jsonable(obj.imag)}
    return obj


def write_json(path, obj) -> None:
    text = json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n"
    _atomic_write_bytes(Path(path), text.encode())


def write_npz(path, **arrays) -> None:
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    for k, v in arrays.items():
        if v.dtype == object:
            raise TypeError(f"write_npz: {k!r} is not a numeric array (dtype object); NPZ "
                            f"files here hold plain arrays only, never pickles.")
    buf = io.BytesIO()
    np.savez_compressed(buf, allow_pickle=False, **arrays)
    _atomic_write_bytes(Path(path), buf.getvalue())


def write_png(path, fig) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _atomic_write_bytes(Path(path), buf.getvalue())


def environment() -> dict:
    """Versions and precision a run used, for results.json."""
    import importlib.metadata as md
    import platform

    import jax

    def version(name):
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "unknown"
    return {"gamedyn": version("gamedyn"), "jax": jax.__version__,
            "jaxlib": version("jaxlib"), "numpy": np.__version__,
            "python": platform.python_version(), "backend": jax.default_backend(),
            "dtype": "float64" if jax.config.jax_enable_x64 else "float32"}
