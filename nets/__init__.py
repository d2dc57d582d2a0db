"""Small parametric functions (MLPs, hypernetworks) in pure JAX; imports nothing of ours."""

__all__: list[str] = []
