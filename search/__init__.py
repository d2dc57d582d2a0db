"""Branching tree searches over game solutions (Ridge Rider, Generalized Ridge Rider).

Imports point down: search may use dynamics, games and nets.
"""

__all__: list[str] = []
