"""Small parametric functions (MLPs, hypernetworks) in pure JAX; imports nothing of ours."""

from nets._hypernet import Hypernet, factorized_hypernet, linear_hypernet, mlp_hypernet
from nets._mlp import ACTIVATIONS, MLP, mlp

__all__ = ["mlp", "MLP", "ACTIVATIONS", "Hypernet", "linear_hypernet", "factorized_hypernet",
           "mlp_hypernet"]
