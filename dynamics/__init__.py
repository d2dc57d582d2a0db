"""How players update: optax-like ``Dynamics(init, step)``, ``simulate`` and analysis.

The implementation modules are private (as in optax); every public name is
exported here.
"""

from dynamics._aggregated_momentum import (AggregatedMomentumState, RecurrentMomentumState,
                                           aggregated_momentum, recurrent_momentum)
from dynamics._alternating import alternating
from dynamics._augmented import augmented_matrix
from dynamics._base import Dynamics, GradientState, make_dynamics
from dynamics._complex_adam import ComplexAdamState, complex_adam
from dynamics._complex_momentum import ComplexMomentumState, complex_momentum
from dynamics._consensus import consensus
from dynamics._extragradient import extragradient
from dynamics._from_optax import OptaxState, from_optax
from dynamics._hypergradient import (CG, GMRES, Exact, HypergradientInfo, Identity, Neumann,
                                     Truncated, Unrolled, hessian_top_eigenvalue,
                                     hypergradient, hypergradient_of_root)
from dynamics._hypernetwork import HypernetworkState, fit_best_response, hypernetwork
from dynamics._linearize import linearize, realify, spectral_radius
from dynamics._lola import lola
from dynamics._lyapunov import (BifurcationResult, LyapunovResult, find_bifurcation,
                                lyapunov_exponents)
from dynamics._momentum import MomentumState, momentum
from dynamics._optax_complex import (OptaxComplexAdamState, OptaxComplexMomentumState,
                                     optax_complex_adam, optax_complex_momentum)
from dynamics._optimistic import OptimisticState, optimistic
from dynamics._sga import sga
from dynamics._simgd import simgd
from dynamics._simulate import (METRICS, Trajectory, distance_to_equilibrium, memory_budget,
                                simulate)
from dynamics._stackelberg import FollowerGame, StackelbergState, stackelberg
from dynamics._sweep import (RateGrid, Sweep, grid_map, rate_grid, spectral_radius_grid,
                             steps_to_tolerance_grid, sweep)

__all__ = [
    "Dynamics", "make_dynamics",
    "simgd", "alternating", "momentum", "extragradient", "optimistic", "consensus",
    "sga", "lola", "from_optax",
    "complex_momentum", "aggregated_momentum", "recurrent_momentum", "complex_adam",
    "optax_complex_momentum", "optax_complex_adam", "augmented_matrix",
    "GradientState", "MomentumState", "OptimisticState", "OptaxState",
    "ComplexMomentumState", "AggregatedMomentumState", "RecurrentMomentumState",
    "ComplexAdamState", "OptaxComplexMomentumState", "OptaxComplexAdamState",
    "sweep", "Sweep", "RateGrid", "grid_map", "rate_grid", "spectral_radius_grid", "steps_to_tolerance_grid",
    "simulate", "Trajectory", "METRICS", "distance_to_equilibrium", "memory_budget",
    "linearize", "spectral_radius", "realify",
    "hypergradient", "hypergradient_of_root", "hessian_top_eigenvalue", "HypergradientInfo",
    "Exact", "CG", "GMRES", "Neumann", "Identity", "Unrolled", "Truncated",
    "stackelberg", "StackelbergState", "FollowerGame",
    "hypernetwork", "HypernetworkState", "fit_best_response",
    "lyapunov_exponents", "LyapunovResult", "find_bifurcation", "BifurcationResult",
]
