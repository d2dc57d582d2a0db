"""The package boundaries and the shared test registries.

* Every public dynamics factory, optax transformation and game factory is in
  tests/_registry.py (or explicitly listed there as not a factory), so the
  common checks cannot be skipped by an addition.
* No library module imports a private name (or private module) of another
  top-level package, and imports point down only:
  experiments -> search -> dynamics -> games -> nets.
"""

import ast
import pathlib

import pytest

import dynamics
import games
from _registry import (DYNAMICS, DYNAMICS_NOT_FACTORIES, GAMES, GAMES_NOT_FACTORIES,
                       OPTAX_TRANSFORMS)

ROOT = pathlib.Path(__file__).resolve().parents[1]
LAYERS = ["nets", "games", "dynamics", "search", "experiments"]   # bottom to top


def _unregistered(package, registered, not_factories):
    return sorted(set(package.__all__) - set(registered) - set(not_factories)
                  - {n for n in package.__all__ if n.endswith("State")})


def test_every_dynamics_factory_is_registered():
    registered = {f for f, _ in DYNAMICS.values()} | {f for f, _ in OPTAX_TRANSFORMS.values()}
    missing = _unregistered(dynamics, registered, DYNAMICS_NOT_FACTORIES)
    assert not missing, (f"dynamics exports {missing}, which tests/_registry.py neither "
                         f"registers (DYNAMICS or OPTAX_TRANSFORMS) nor lists in "
                         f"DYNAMICS_NOT_FACTORIES")
    assert not (registered | DYNAMICS_NOT_FACTORIES) - set(dynamics.__all__)


def test_every_game_factory_is_registered():
    registered = {f for f, _ in GAMES.values()}
    missing = _unregistered(games, registered, GAMES_NOT_FACTORIES)
    assert not missing, (f"games exports {missing}, which tests/_registry.py neither "
                         f"registers in GAMES nor lists in GAMES_NOT_FACTORIES")
    assert not (registered | GAMES_NOT_FACTORIES) - set(games.__all__)


@pytest.mark.parametrize("package", [dynamics, games])
def test_every_exported_name_exists(package):
    assert all(hasattr(package, n) for n in package.__all__)


def _imports(path):
    """(imported module, imported name or None) for every import in a file."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                yield node.module, alias.name


def _library_files():
    for package in LAYERS:
        yield from sorted((ROOT / package).rglob("*.py"))


def test_library_files_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in _library_files()}
    assert "dynamics/_simulate.py" in names and "games/_base.py" in names


def test_no_private_imports_across_packages_and_imports_point_down():
    problems = []
    for path in _library_files():
        own = path.relative_to(ROOT).parts[0]
        for module, name in _imports(path):
            top = module.split(".")[0]
            if top not in LAYERS or top == own:
                continue
            where = f"{path.relative_to(ROOT)} imports {module}" + (f".{name}" if name else "")
            if LAYERS.index(top) > LAYERS.index(own):
                problems.append(f"{where}: imports must point down")
            if any(part.startswith("_") for part in module.split(".")[1:]) or \
                    (name is not None and name.startswith("_")):
                problems.append(f"{where}: a private name of another package")
    assert not problems, "\n".join(problems)


def test_implementation_modules_do_not_shadow_exports():
    # A module named like a function it exports (dynamics.simulate was both)
    # hides one of them; public modules here are packages' deliberate API.
    for package in (dynamics, games):
        folder = ROOT / package.__name__
        public_modules = {p.stem for p in folder.glob("*.py")
                          if not p.stem.startswith("_")}
        assert public_modules <= {"checks", "strategies"}, public_modules
