"""Output folders that never mix two runs.

A run writes into a fresh hidden folder beside ``--out`` and, once it has
finished, swaps it into place (with SIGINT/SIGTERM held off during the two
renames). An interrupted run (SIGINT, SIGTERM, an exception) removes its folder,
so the previous complete results stay as they were and nothing temporary is
left behind. A lock file beside ``--out`` makes a second concurrent run into the
same folder exit with status 2 instead of interleaving files. Only folders that
are empty or hold an earlier gamedyn run are ever replaced.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import json
import os
import secrets
import shutil
import signal
import stat
import threading
import time
from pathlib import Path

from experiments.registry import UsageError

__all__ = ["output_folder", "Interrupted", "check_out"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """SIGTERM arrived: unwind (cleaning up) like KeyboardInterrupt does for SIGINT."""


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def _is_gamedyn_output(path: Path) -> bool:
    """Empty, or holding a results.json that a gamedyn command wrote."""
    entries = list(path.iterdir())
    if not entries:
        return True
    try:
        res = json.loads((path / "results.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(res, dict) and isinstance(res.get("command"), str)


def _writable(path: Path) -> bool:
    # Root passes os.access on any mode, so also honour the owner's write bit.
    mode = path.stat().st_mode
    return os.access(path, os.W_OK | os.X_OK) and bool(mode & stat.S_IWUSR)


def check_out(out) -> Path:
    """Validate ``--out`` before any work; UsageError (exit 2) says what to do."""
    out = Path(out).expanduser()
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise UsageError(f"--out {out} exists and is not a folder; pass a folder path "
                             f"(it is created if missing).")
        if not _writable(out):
            raise UsageError(f"--out {out} is a read-only folder; make it writable or choose "
                             f"another --out.")
        if not _is_gamedyn_output(out):
            raise UsageError(f"--out {out} holds files that are not a gamedyn run (no "
                             f"results.json of one); gamedyn replaces the whole folder, so "
                             f"choose a new or empty folder.")
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not _writable(parent):
        raise UsageError(f"cannot create --out {out}: {parent} is not a writable folder; "
                         f"choose another --out.")
    return out


@contextlib.contextmanager
def _signals_held(restore=None):
    """Defer SIGINT/SIGTERM until the block is done, then act on them with the
    handlers in ``restore`` (default: those in place before).

    A signal mask would not do: JAX's threads leave the signals unblocked, the
    kernel hands them one, and Python then runs the handler in the main thread
    all the same. Main thread only (elsewhere signals cannot reach Python code).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending = []
    before = {s: signal.signal(s, lambda signum, frame: pending.append(signum))
              for s in _SIGNALS}
    try:
        yield
    finally:
        for s, handler in (before if restore is None else restore).items():
            if handler is not None:         # None: set outside Python, cannot be set back
                signal.signal(s, handler)
        for signum in dict.fromkeys(pending):
            signal.raise_signal(signum)     # to the restored handler, now


def _holder(path: Path) -> str:
    """The pid in a held lock file; the holder writes it just after locking, so an
    empty file is read again briefly before giving up ("?")."""
    for _ in range(50):
        try:
            pid = path.read_text().strip()
        except OSError:
            return "?"
        if pid:
            return pid
        time.sleep(0.01)
    return "?"


def _lock(path: Path, out: Path):
    """An exclusive, non-blocking lock on ``path`` (created); the open fd, or UsageError."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = _holder(path)
            raise UsageError(f"another gamedyn run (pid {holder}) is writing to {out}; "
                             f"wait for it to finish or choose another --out.") from None
        # The holder before us may have removed the file after we opened it: only
        # a lock on the file that is at ``path`` now counts.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            return fd
        os.close(fd)


@contextlib.contextmanager
def output_folder(out):
    """``with output_folder(out) as tmp:`` write everything into ``tmp``.

    On normal exit ``tmp`` replaces ``out``; on any exception or signal it is
    removed and ``out`` is untouched. SIGTERM is turned into ``Interrupted``.
    """
    out = check_out(out)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = {s: signal.getsignal(s) for s in _SIGNALS} if main_thread else {}
    parent = out.absolute().parent
    lock_path = parent / f".{out.name}.lock"
    fd, tmp = None, None
    try:
        if main_thread:         # signal handlers can only be set from the main thread
            signal.signal(signal.SIGTERM, _raise_interrupted)
        parent.mkdir(parents=True, exist_ok=True)
        with _signals_held():   # no lock file left behind by a signal in between
            fd = _lock(lock_path, out)
        # Left by a run that was killed outright (SIGKILL): no live run holds them.
        # (Escaped: ``--out r[1]`` must not match the folders of ``--out r1``.)
        # One killed between the two renames below left no ``out`` but the
        # previous run whole as ``.tmp-old-*``: put that back first.
        stale = glob.escape(f".{out.name}.tmp-")
        for old in parent.glob(stale + "old-*"):
            if not out.exists() and (old / "results.json").exists():
                os.rename(old, out)
        for folder in parent.glob(stale + "*"):
            shutil.rmtree(folder, ignore_errors=True)
        tmp = parent / f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        tmp.mkdir(mode=0o777)
        yield tmp
        with _signals_held():
            old = None
            if out.exists():
                old = parent / f".{out.name}.tmp-old-{secrets.token_hex(4)}"
                os.rename(out, old)
            os.rename(tmp, out)
            tmp = None
            if old is not None:     # results.json first: a half-removed one is not put back
                with contextlib.suppress(OSError):
                    os.unlink(old / "results.json")
                shutil.rmtree(old, ignore_errors=True)
    finally:
        with _signals_held(restore=previous):
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.unlink(lock_path)
                os.close(fd)
