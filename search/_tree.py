"""The search tree: a networkx.DiGraph that stays an arborescence, saved as JSON.

Nodes are integers 0, 1, 2, ... in the order they were added (0 is the root).
Node attributes (JSON-ready, so ``tree.graph`` is what the file holds):

* ``params``: the point, encoded (``tree.params(n)`` decodes it to a Params tuple);
* ``losses``: the players' losses there; ``grad_norm``: |xi| there;
* ``found_by``: how the node was reached ("start", "simgd", "ridge", ...);
* ``is_solution``: finite with |xi| <= the search's tolerance and the learner's
  step-map spectral radius (``step_radius``) at most 1 + it: a point it stays at;
* ``depth``; ``expanded``: whether the search has branched from it;
* ``exponents``: Lyapunov exponents at the node's branch point (once expanded);
* ``branch_point``: the encoded point the children branched from (once expanded);
* ``eigenvalues``: of the game Jacobian at the node, as [re, im] pairs.

Edge attributes: ``eigenvalue`` ([re, im]) of the branching direction, ``sign``
(+1 or -1), ``eps`` and ``direction`` (its index at the branch point).
"""

from __future__ import annotations

import json
import numbers
import os
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

__all__ = ["SearchTree", "encode_params", "decode_params"]

FORMAT = "gamedyn.SearchTree"
VERSION = 1
SPACES = ("params", "policy")


def encode_params(tree):
    """A pytree of arrays (tuples, lists, dicts, None) as JSON-ready values."""
    if isinstance(tree, tuple):
        return {"tuple": [encode_params(x) for x in tree]}
    if isinstance(tree, list):
        return {"list": [encode_params(x) for x in tree]}
    if isinstance(tree, dict):
        return {"dict": {str(k): encode_params(v) for k, v in tree.items()}}
    if tree is None:
        return None
    a = np.asarray(tree)
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"parameters must be real float arrays; got dtype {a.dtype}.")
    return {"array": a.tolist(), "dtype": a.dtype.name, "shape": list(a.shape)}


def decode_params(obj):
    """The inverse of :func:`encode_params` (arrays as jax arrays of the stored dtype)."""
    if obj is None:
        return None
    if "tuple" in obj:
        return tuple(decode_params(x) for x in obj["tuple"])
    if "list" in obj:
        return [decode_params(x) for x in obj["list"]]
    if "dict" in obj:
        return {k: decode_params(v) for k, v in obj["dict"].items()}
    if not np.issubdtype(np.dtype(obj["dtype"]), np.floating):
        raise TypeError(f"parameters must be real float arrays; got dtype {obj['dtype']}.")
    # null entries are non-finite values (JSON has no NaN): read back as NaN
    a = np.asarray(obj["array"], dtype=obj["dtype"]).reshape(obj["shape"])
    return jnp.asarray(a)


def _json_safe(obj):
    """Non-finite floats as None (JSON has no NaN or infinity), recursively."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def _flat(params) -> np.ndarray:
    leaves = jax.tree_util.tree_leaves(params)
    return np.concatenate([np.ravel(np.asarray(x, float)) for x in leaves]) if leaves \
        else np.zeros(0)


_UMASK = os.umask(0)
os.umask(_UMASK)


def _atomic_write(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)     # mkstemp makes 0600; honour the umask
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class SearchTree:
    """A branching search's record: ``tree.graph`` is a ``networkx.DiGraph`` that is
    an arborescence (a rooted tree, edges from parent to child) after every change.

    Build it with :meth:`add_root` and :meth:`add_child`; read it with
    ``tree.graph`` (any networkx algorithm), :meth:`params`, :meth:`solutions`;
    persist it with :meth:`save` and :meth:`load`.  Attributes are described in
    the module docstring; ``tree.graph.graph`` holds the search's settings.

    >>> import jax.numpy as jnp
    >>> tree = SearchTree()
    >>> root = tree.add_root((jnp.zeros(1),), found_by="start", losses=[0.0])
    >>> child = tree.add_child(root, (jnp.ones(1),), edge={"sign": 1, "eps": 0.1},
    ...                        found_by="simgd", losses=[-1.0], is_solution=True)
    >>> len(tree), tree.graph.nodes[child]["depth"], tree.solutions()[0][0].tolist()
    (2, 1, [1.0])
    """

    def __init__(self, **settings):
        self.graph = nx.DiGraph(format=FORMAT, version=VERSION, **settings)

    def __len__(self) -> int:
        return self.graph.number_of_nodes()

    def __repr__(self) -> str:
        n = sum(bool(d.get("is_solution")) for _, d in self.graph.nodes(data=True))
        return (f"SearchTree({len(self)} nodes, depth {self.depth}, {n} solution nodes, "
                f"{len(self.solutions())} distinct)")

    @property
    def root(self):
        """The root node (0), or None for an empty tree."""
        return 0 if len(self) else None

    @property
    def depth(self) -> int:
        return max((d["depth"] for _, d in self.graph.nodes(data=True)), default=-1)

    def _add(self, params, attrs) -> int:
        node = len(self)
        data = {"params": encode_params(tuple(params)), "losses": None, "grad_norm": None,
                "found_by": "", "is_solution": False, "expanded": False, "exponents": None,
                "branch_point": None, "eigenvalues": None}
        data.update(attrs)
        self.graph.add_node(node, **data)
        return node

    def add_root(self, params, **attrs) -> int:
        """Add the root (the start of the search); the tree must be empty."""
        if len(self):
            raise ValueError(f"this tree already has a root (and {len(self)} nodes); a "
                             f"tree has one root. Use add_child.")
        return self._add(params, {**attrs, "depth": 0})

    def add_child(self, parent: int, params, *, edge: dict | None = None, **attrs) -> int:
        """Add a child of ``parent`` (edge attributes ``edge``); returns its id."""
        if parent not in self.graph:
            raise ValueError(f"parent {parent!r} is not a node of this tree (it has nodes "
                             f"0..{len(self) - 1}).")
        depth = self.graph.nodes[parent]["depth"] + 1
        node = self._add(params, {**attrs, "depth": depth})
        self.graph.add_edge(parent, node, **(edge or {}))
        return node

    def params(self, node: int):
        """The Params tuple stored at ``node``."""
        return decode_params(self.graph.nodes[node]["params"])

    def children(self, node: int) -> list[int]:
        return sorted(self.graph.successors(node))

    def unexpanded(self, max_depth: int | None = None) -> list[int]:
        """Nodes the search has not branched from (above ``max_depth``), in order."""
        return [n for n, d in self.graph.nodes(data=True) if not d["expanded"]
                and (max_depth is None or d["depth"] < max_depth)]

    def solutions(self, tol: float = 0.1, *, space: str = "params") -> list:
        """The distinct solutions, as Params tuples, in the order they were found.

        Solution nodes (``is_solution``) are clustered greedily: a node joins the
        first earlier representative within ``tol`` in the max-norm over all
        parameters, else it starts a new one.  ``space="policy"`` compares
        sigmoid(parameters) instead: for games whose parameters are logits (the
        IPD), where a converged logit may keep drifting towards +-inf while the
        policy it encodes no longer changes.
        """
        if space not in SPACES:
            raise ValueError(f"space must be one of {', '.join(map(repr, SPACES))}; got "
                             f"{space!r}.")
        if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol >= 0:
            raise ValueError(f"tol must be a non-negative number; got {tol!r}.")
        reps, out = [], []
        for n in sorted(self.graph):
            if not self.graph.nodes[n].get("is_solution"):
                continue
            p = self.params(n)
            x = _flat(p)
            if space == "policy":
                x = 1 / (1 + np.exp(-x))
            if all(np.max(np.abs(x - r), initial=0.0) > tol for r in reps):
                reps.append(x)
                out.append(p)
        return out

    def check(self) -> None:
        """Raise if the graph is not an arborescence with the expected attributes."""
        if len(self) and not nx.is_arborescence(self.graph):
            raise ValueError("the search graph is not an arborescence (a rooted tree).")
        for n, d in self.graph.nodes(data=True):
            if "params" not in d or "depth" not in d:
                raise ValueError(f"node {n} lacks params or depth.")
        for u, v in self.graph.edges:
            if self.graph.nodes[v]["depth"] != self.graph.nodes[u]["depth"] + 1:
                raise ValueError(f"node {v}'s depth is not its parent {u}'s plus one.")

    # ------------------------------------------------------------------ files

    def save(self, path) -> None:
        """Write the tree as versioned node-link JSON, atomically (a file that
        already exists is replaced only once the new one is complete).  Non-finite
        numbers (a diverged branch) are written as null, read back as NaN."""
        data = {"format": FORMAT, "version": VERSION,
                "graph": _json_safe(nx.node_link_data(self.graph, edges="edges"))}
        _atomic_write(Path(path), json.dumps(data, allow_nan=False))

    @classmethod
    def load(cls, path) -> SearchTree:
        """Read a tree written by :meth:`save`; a search given it resumes."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as err:
            raise ValueError(f"cannot read a search tree from {str(path)!r}: {err}") from None
        except UnicodeDecodeError:
            raise ValueError(f"{str(path)!r} is not a gamedyn search tree (not UTF-8 text, "
                             f"so not JSON).") from None
        try:
            data = json.loads(text, parse_constant=_no_constants)
        except (json.JSONDecodeError, ValueError) as err:
            raise ValueError(f"{str(path)!r} is not a complete JSON file ({err}); it may be "
                             f"truncated or corrupt. Search trees are written atomically, "
                             f"so an earlier save is still intact if it was not overwritten."
                             ) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{str(path)!r} is not a gamedyn search tree (no "
                             f"'format': {FORMAT!r}).")
        if data.get("version") != VERSION:
            raise ValueError(f"{str(path)!r} is a search tree of version "
                             f"{data.get('version')!r}; this gamedyn reads version "
                             f"{VERSION}.")
        tree = cls()
        try:
            if not isinstance(data["graph"], dict) or data["graph"].get("directed") is False:
                raise ValueError("'graph' must be a directed node-link graph")
            tree.graph = nx.node_link_graph(data["graph"], directed=True, edges="edges")
            tree.check()
            for n in tree.graph:
                tree.params(n)
        except (KeyError, TypeError, ValueError, AttributeError, nx.NetworkXException) as err:
            raise ValueError(f"{str(path)!r} holds a malformed search tree: {err}") from None
        if sorted(tree.graph) != list(range(len(tree))):
            raise ValueError(f"{str(path)!r} holds a malformed search tree: nodes must be "
                             f"0..{len(tree) - 1}.")
        return tree
