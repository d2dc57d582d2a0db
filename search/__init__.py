"""Branching tree searches over game solutions (Ridge Rider, Generalized Ridge Rider).

Imports point down: search may use dynamics, games and nets.  The implementation
modules are private; every public name is exported here.
"""

from search._grr import branch_directions, grr, ridge_rider, saddle_directions
from search._tree import SearchTree, decode_params, encode_params

__all__ = ["SearchTree", "encode_params", "decode_params", "grr", "ridge_rider",
           "saddle_directions", "branch_directions"]
