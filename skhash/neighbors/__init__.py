"""Nearest-neighbour search on binary codes."""

from ._unsupervised import HammingNeighbors

__all__ = ["HammingNeighbors"]
