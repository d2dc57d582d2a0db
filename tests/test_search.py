"""Search trees (arborescence, JSON round trip, damaged files), Ridge Rider and GRR."""

import json
import os

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

import dynamics
import games
import search
from search import SearchTree


def _point(*xs):
    return tuple(jnp.asarray(x, jnp.float64) for x in xs)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _small_tree():
    tree = SearchTree(method="test")
    root = tree.add_root(_point(0.0, 1.0), found_by="start", losses=[0.0, 0.0])
    assert nx.is_arborescence(tree.graph)
    a = tree.add_child(root, _point(5.0, 5.0), edge={"sign": 1, "eps": 0.1},
                       found_by="simgd", is_solution=True)
    assert nx.is_arborescence(tree.graph)
    tree.add_child(root, _point(5.05, 4.98), edge={"sign": -1, "eps": 0.1},
                   found_by="simgd", is_solution=True)
    tree.add_child(a, _point(-6.0, -7.0), edge={"sign": 1, "eps": 0.1},
                   found_by="simgd", is_solution=True)
    tree.add_child(a, _point(0.3, 0.3), found_by="simgd", is_solution=False)
    assert nx.is_arborescence(tree.graph)
    return tree


def test_tree_structure_and_distinct_solutions():
    tree = _small_tree()
    assert len(tree) == 5 and tree.root == 0 and tree.depth == 2
    assert tree.children(0) == [1, 2] and tree.unexpanded(max_depth=1) == [0]
    sols = tree.solutions(tol=0.1)
    assert [[float(x) for x in s] for s in sols] == [[5.0, 5.0], [-6.0, -7.0]]
    assert len(tree.solutions(tol=0.01)) == 3
    # in policy space (sigmoid of logits) 5.0 and 5.05 are the same policy
    assert len(tree.solutions(tol=0.01, space="policy")) == 2
    with pytest.raises(ValueError, match="already has a root"):
        tree.add_root(_point(0.0, 0.0))
    with pytest.raises(ValueError, match="parent 9 is not a node"):
        tree.add_child(9, _point(0.0, 0.0))
    with pytest.raises(ValueError, match="space must be one of"):
        tree.solutions(space="logits")


def test_save_load_round_trip(tmp_path):
    tree = _small_tree()
    tree.graph.nodes[0]["exponents"] = [0.25]
    path = tmp_path / "tree.json"
    tree.save(path)
    back = SearchTree.load(path)
    assert nx.is_arborescence(back.graph)
    assert sorted(back.graph.edges) == sorted(tree.graph.edges)
    assert back.graph.graph["method"] == "test"
    for n in tree.graph:
        for a, b in zip(tree.params(n), back.params(n)):
            assert a.dtype == b.dtype and float(a) == float(b)
        assert back.graph.nodes[n]["found_by"] == tree.graph.nodes[n]["found_by"]
    assert back.graph.edges[0, 2]["sign"] == -1
    assert back.graph.nodes[0]["exponents"] == [0.25]


def test_damaged_files_are_clear_errors_and_a_failed_save_keeps_the_old_file(tmp_path):
    tree = _small_tree()
    path = tmp_path / "tree.json"
    tree.save(path)
    good = path.read_text()
    cut = tmp_path / "cut.json"
    cut.write_text(good[: len(good) // 2])
    with pytest.raises(ValueError, match="not a complete JSON file.*truncated or corrupt"):
        SearchTree.load(cut)
    data = json.loads(good)
    data["version"] = 99
    (tmp_path / "v.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="version 99; this gamedyn reads version 1"):
        SearchTree.load(tmp_path / "v.json")
    (tmp_path / "other.json").write_text(json.dumps({"nodes": []}))
    with pytest.raises(ValueError, match="is not a gamedyn search tree"):
        SearchTree.load(tmp_path / "other.json")
    data = json.loads(good)
    data["graph"]["edges"].append({"source": 3, "target": 1})     # two parents
    (tmp_path / "loop.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="malformed search tree.*arborescence"):
        SearchTree.load(tmp_path / "loop.json")
    with pytest.raises(ValueError, match="cannot read a search tree"):
        SearchTree.load(tmp_path / "missing.json")
    for name, text, message in [
            ("nan.json", good.replace('"depth": 0', '"depth": NaN', 1), "NaN is not JSON"),
            ("list.json", json.dumps({**json.loads(good), "graph": []}), "node-link graph"),
            ("undirected.json", json.dumps({**json.loads(good), "graph": {
                **json.loads(good)["graph"], "directed": False}}), "directed"),
            ("complex.json", good.replace('"float64"', '"complex128"', 1), "complex128"),
            ("depth.json", good.replace('"depth": 1', '"depth": 5', 1), "depth is not"),
    ]:
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match=message):
            SearchTree.load(tmp_path / name)
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="not UTF-8 text"):
        SearchTree.load(tmp_path / "bin.json")
    # a save that fails midway (an attribute JSON cannot hold) leaves the old file
    tree.graph.nodes[0]["exponents"] = [object()]
    with pytest.raises(TypeError):
        tree.save(path)
    assert path.read_text() == good
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_diverged_node_saves_as_valid_json(tmp_path):
    tree = _small_tree()
    tree.add_child(1, _point(np.nan, np.inf), found_by="simgd",
                   losses=[float("nan"), float("inf")], diverged_at=3)
    path = tmp_path / "tree.json"
    tree.save(path)
    json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in the file"))
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~_umask()   # like results.json
    back = SearchTree.load(path)
    node = max(back.graph)
    assert np.isnan(np.asarray(back.params(node)[0])).all()
    assert back.graph.nodes[node]["losses"] == [None, None]


def test_saddle_criterion():
    # the small IPD's interior saddle has one real negative direction ...
    g = games.small_ipd()
    values, dirs = search.saddle_directions(g, _point(0.4, 0.4))
    assert len(dirs) == 1 and values[0] < 0
    # ... matching pennies' rotational equilibrium has none
    mp = games.matching_pennies()
    assert search.saddle_directions(mp, mp.equilibrium())[1] == []
    values, dirs = search.branch_directions(mp, mp.equilibrium(), 2)
    assert len(dirs) == 2 and abs(values[0].imag) > 0.1
    flat = np.stack([np.asarray(jax.flatten_util.ravel_pytree(d)[0]) for d in dirs])
    np.testing.assert_allclose(flat @ flat.T, np.eye(2), atol=1e-12)


def _double_well_2d():
    # one player, L = (x^2 - 1)^2 + y^2: a saddle at 0 between minima at x = +-1
    return games.from_losses(lambda p: (p[0][0] ** 2 - 1) ** 2 + p[0][1] ** 2,
                             init=(jnp.zeros(2),))


def test_ridge_rider_finds_both_minima_from_the_saddle():
    tree = search.ridge_rider(_double_well_2d(), (jnp.array([0.0, 0.0]),), ride_steps=50)
    assert nx.is_arborescence(tree.graph)
    sols = sorted(float(s[0][0]) for s in tree.solutions(tol=1e-3))
    np.testing.assert_allclose(sols, [-1.0, 1.0], atol=1e-4)
    assert {tree.graph.edges[e]["sign"] for e in tree.graph.edges} == {1, -1}
    # at a minimum the saddle criterion finds no branch: no children
    tree = search.ridge_rider(_double_well_2d(), (jnp.array([1.0, 0.0]),))
    assert len(tree) == 1 and tree.graph.nodes[0]["expanded"]
    with pytest.raises(ValueError, match="ridge_rider follows the Hessian of a single loss"):
        search.ridge_rider(games.small_ipd(), _point(0.0, 0.0))


@pytest.mark.slow
def test_grr_finds_both_ipd_classes_where_simgd_finds_one(tmp_path):
    g, dyn = games.small_ipd(), dynamics.simgd(1.0)
    start = _point(1.0, 1.0)
    per_step = jax.jit(g.per_step_losses)
    alone = dynamics.simulate(g, dyn, start, 2000, every=2000, metrics=()).final.params
    np.testing.assert_allclose(np.asarray(per_step(alone)), 1.0, atol=1e-3)   # TFT only
    saved, calls = [], []
    tree = search.grr(g, dyn, start, key=jax.random.key(0), max_depth=1,
                      checkpoint=lambda t: (t.save(tmp_path / "t.json"), saved.append(len(t))),
                      progress=lambda done, total: calls.append((done, total)))
    assert [d for d, _ in calls] == [1, 2, 3] and calls[-1][1] == 3    # 1 node + 2 branches
    assert nx.is_arborescence(tree.graph) and saved == [4]
    # the root's first child is simGD from the start: tit-for-tat-like only
    np.testing.assert_allclose(np.asarray(per_step(tree.params(1))), 1.0, atol=1e-3)
    assert tree.graph.edges[0, 1]["sign"] == 0
    root = tree.graph.nodes[0]
    assert root["expanded"] and root["exponents"][0] > 0     # a bifurcation
    classes = sorted(round(float(per_step(s)[0]), 2) for s in tree.solutions(space="policy"))
    assert classes == [1.0, 1.96]                             # tit-for-tat-like, defection
    for e in tree.graph.edges:
        assert set(tree.graph.edges[e]) == {"eigenvalue", "sign", "eps", "direction"}
    # resume from the file, interrupted during the next level: no node is left
    # expanded without its children, and resuming again completes the level
    back = SearchTree.load(tmp_path / "t.json")

    def stop(done, total):
        if done == 2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        search.grr(g, dyn, start, key=jax.random.key(0), max_depth=2, tree=back,
                   progress=stop)
    assert len(back) == 4 and [n for n in back.graph if back.graph.nodes[n].get(
        "expanded") and not back.children(n)] == []
    more = search.grr(g, dyn, start, key=jax.random.key(0), max_depth=2, tree=back)
    assert nx.is_arborescence(more.graph) and more.depth == 2 and len(more) == 4 + 3 * 2
    for n in range(4):
        assert more.graph.nodes[n]["params"] == tree.graph.nodes[n]["params"]
    # ... and equals the tree of an uninterrupted depth-2 search with the same key
    whole = search.grr(g, dyn, start, key=jax.random.key(0), max_depth=2)
    assert list(whole.graph.edges) == list(more.graph.edges)
    for n in whole.graph:
        assert whole.graph.nodes[n] == more.graph.nodes[n], n
    for e in whole.graph.edges:
        assert whole.graph.edges[e] == more.graph.edges[e], e


def test_grr_bad_input():
    g = games.small_ipd()
    with pytest.raises(TypeError, match="dyn must be a dynamics.Dynamics"):
        search.grr(g, "simgd", _point(1.0, 1.0), key=jax.random.key(0))
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        search.grr(g, dynamics.simgd(1.0), _point(1.0, 1.0), key=0)
    with pytest.raises(ValueError, match="max_depth must be an int >= 1; got 0"):
        search.grr(g, dynamics.simgd(1.0), _point(1.0, 1.0), key=jax.random.key(0),
                   max_depth=0)
    with pytest.raises(TypeError, match="tree must be a search.SearchTree"):
        search.grr(g, dynamics.simgd(1.0), _point(1.0, 1.0), key=jax.random.key(0),
                   tree={"nodes": []})
    with pytest.raises(ValueError, match="eps must be finite; got inf"):
        search.grr(g, dynamics.simgd(1.0), _point(1.0, 1.0), key=jax.random.key(0),
                   eps=float("inf"))
    # resuming a tree of another search (other settings, game, dynamics or method)
    tree = search.grr(g, dynamics.simgd(1.0), _point(1.0, 1.0), key=jax.random.key(0),
                      steps=50, lyapunov_steps=5, ascent_iters=2)
    run = dict(steps=50, lyapunov_steps=5, ascent_iters=2, max_depth=2, tree=tree)
    for game, dyn, kwargs, message in [
            (g, dynamics.simgd(1.0), dict(eps=0.5), "eps: saved 0.1, now 0.5"),
            (games.mix(games.matching_pennies(), g, 0.5), dynamics.simgd(1.0), {},
             "game: saved 'SmallIPD:"),
            (g, dynamics.simgd(0.5), {}, "dynamics: saved 'simgd:"),
            (g, dynamics.simgd(1.0), dict(key=jax.random.key(1)), "key: saved")]:
        with pytest.raises(ValueError, match="saved by a different search.*" + message):
            search.grr(game, dyn, _point(1.0, 1.0), **{"key": jax.random.key(0), **run,
                                                      **kwargs})
    assert len(tree) == 4                               # untouched by the refusals
    for num in (0, -1):
        with pytest.raises(ValueError, match=f"num must be an int >= 1; got {num}"):
            search.branch_directions(g, _point(1.0, 1.0), num)
        with pytest.raises(ValueError, match=f"num must be an int >= 1; got {num}"):
            search.saddle_directions(g, _point(1.0, 1.0), num)
    assert len(tree.solutions(tol=np.float32(0.1))) == len(tree.solutions(tol=0.1))
    with pytest.raises(ValueError, match="tol must be a non-negative number; got True"):
        tree.solutions(tol=True)
    with pytest.raises(ValueError, match="method: saved 'grr', now 'ridge_rider'"):
        search.ridge_rider(games.from_losses(lambda p: jnp.sum(p[0] ** 2),
                                             init=(jnp.zeros(1),)), (jnp.zeros(1),),
                           tree=tree)


@pytest.mark.slow
def test_grr_with_lola_on_the_ipd_finds_defection_besides_tit_for_tat():
    g, dyn = games.ipd(), dynamics.lola(1.0, 1.0)
    start = g.init(jax.random.key(0))
    per_step = jax.jit(g.per_step_losses)
    tree = search.grr(g, dyn, start, key=jax.random.key(0), steps=500, tol=2e-2)
    # LOLA alone (the root's first child) reaches tit-for-tat-like cooperation ...
    assert [games.ipd_policy_class(x) for x in tree.params(1)] == ["tit_for_tat"] * 2
    # ... and the branches at the bifurcation reach mutual defection
    outcomes = {tuple(np.round(np.asarray(per_step(p)), 1)) for p in tree.solutions()}
    assert outcomes == {(1.0, 1.0), (2.0, 2.0)}


@pytest.mark.slow
def test_grr_branches_at_a_rotational_bifurcation_the_saddle_criterion_misses():
    # 0.95 matching pennies + 0.05 small IPD: its interior fixed point is rotational
    # (J's eigenvalues about 0.001 +- 0.237i); simGD (lr 1) spirals out of it.
    g, dyn = games.mix(games.matching_pennies(), games.small_ipd(), 0.95), dynamics.simgd(1.0)
    xi = jax.jit(lambda v: jnp.stack(games.simultaneous_gradient(g, (v[0], v[1]))))
    v = jnp.zeros(2)
    for _ in range(30):
        v = v - jnp.linalg.solve(jax.jacfwd(xi)(v), xi(v))
    start = (v[0], v[1])
    assert search.saddle_directions(g, start)[1] == []            # Ridge Rider: no branch
    tree = search.grr(g, dyn, start, key=jax.random.key(0), num_branches=2)   # defaults
    root = tree.graph.nodes[0]
    branch_point = search.decode_params(root["branch_point"])
    assert root["exponents"][0] > 0
    assert search.saddle_directions(g, branch_point)[1] == []     # still none there
    # simGD alone stays on the (unstable) fixed point: no solution; GRR reaches two
    # different policy pairs
    assert not tree.graph.nodes[1]["is_solution"]
    policies = {tuple(np.round(np.asarray(jax.nn.sigmoid(jnp.stack(p))))) for p in
                tree.solutions(space="policy")}
    assert len(policies) >= 2, policies
