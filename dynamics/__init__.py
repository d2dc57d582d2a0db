"""How players update: optax-like ``Dynamics(init, step)``, ``simulate`` and analysis."""

from dynamics._base import Dynamics, make_dynamics
from dynamics.alternating import AlternatingState, alternating
from dynamics.consensus import ConsensusState, consensus
from dynamics.extragradient import ExtragradientState, extragradient
from dynamics.from_optax import OptaxState, from_optax
from dynamics.linearize import linearize, realify, spectral_radius
from dynamics.lola import LOLAState, lola
from dynamics.momentum import MomentumState, momentum
from dynamics.optimistic import OptimisticState, optimistic
from dynamics.sga import SGAState, sga
from dynamics.simgd import SimGDState, simgd
from dynamics.simulate import METRICS, Trajectory, distance_to_equilibrium, simulate

__all__ = [
    "Dynamics", "make_dynamics",
    "simgd", "alternating", "momentum", "extragradient", "optimistic", "consensus",
    "sga", "lola", "from_optax",
    "SimGDState", "AlternatingState", "MomentumState", "ExtragradientState",
    "OptimisticState", "ConsensusState", "SGAState", "LOLAState", "OptaxState",
    "simulate", "Trajectory", "METRICS", "distance_to_equilibrium",
    "linearize", "spectral_radius", "realify",
]
