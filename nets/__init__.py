"""Small parametric functions (MLPs, hypernetworks) in pure JAX; imports nothing of ours."""

from nets._mlp import ACTIVATIONS, MLP, mlp

__all__ = ["mlp", "MLP", "ACTIVATIONS"]
