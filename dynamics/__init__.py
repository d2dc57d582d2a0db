"""How players update: optax-like ``Dynamics(init, step)``, ``simulate`` and analysis."""

from dynamics._base import Dynamics, GradientState, make_dynamics
from dynamics.aggregated_momentum import (AggregatedMomentumState, RecurrentMomentumState,
                                          aggregated_momentum, recurrent_momentum)
from dynamics.augmented import augmented_matrix
from dynamics.complex_adam import ComplexAdamState, complex_adam, optax_complex_adam
from dynamics.complex_momentum import (ComplexMomentumState, complex_momentum,
                                       optax_complex_momentum)
from dynamics.sweep import (RateGrid, grid_map, rate_grid, spectral_radius_grid,
                            steps_to_tolerance_grid)
from dynamics.alternating import alternating
from dynamics.consensus import consensus
from dynamics.extragradient import extragradient
from dynamics.from_optax import OptaxState, from_optax
from dynamics.linearize import linearize, realify, spectral_radius
from dynamics.lola import lola
from dynamics.momentum import MomentumState, momentum
from dynamics.optimistic import OptimisticState, optimistic
from dynamics.sga import sga
from dynamics.simgd import simgd
from dynamics.simulate import METRICS, Trajectory, distance_to_equilibrium, simulate

__all__ = [
    "Dynamics", "make_dynamics",
    "simgd", "alternating", "momentum", "extragradient", "optimistic", "consensus",
    "sga", "lola", "from_optax",
    "complex_momentum", "aggregated_momentum", "recurrent_momentum", "complex_adam",
    "optax_complex_momentum", "optax_complex_adam", "augmented_matrix",
    "ComplexMomentumState", "AggregatedMomentumState", "RecurrentMomentumState",
    "ComplexAdamState", "RateGrid", "grid_map", "rate_grid", "spectral_radius_grid",
    "steps_to_tolerance_grid",
    "GradientState", "MomentumState", "OptimisticState", "OptaxState",
    "simulate", "Trajectory", "METRICS", "distance_to_equilibrium",
    "linearize", "spectral_radius", "realify",
]
