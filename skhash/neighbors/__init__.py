"""Nearest-neighbour search on binary codes, and neighbour graphs as transformers; on
float features, codes for the candidates and exact re-ranking."""

from ._graph import HammingKNeighborsTransformer, HammingRadiusNeighborsTransformer
from ._rerank import HashingNearestNeighbors
from ._unsupervised import HammingNeighbors

__all__ = [
    "HammingKNeighborsTransformer",
    "HammingNeighbors",
    "HammingRadiusNeighborsTransformer",
    "HashingNearestNeighbors",
]
