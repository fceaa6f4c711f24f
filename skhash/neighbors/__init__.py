"""Nearest-neighbour search on binary codes, and neighbour graphs as transformers."""

from ._graph import HammingKNeighborsTransformer, HammingRadiusNeighborsTransformer
from ._unsupervised import HammingNeighbors

__all__ = [
    "HammingKNeighborsTransformer",
    "HammingNeighbors",
    "HammingRadiusNeighborsTransformer",
]
