"""Nearest-neighbour search on binary codes."""
