"""skhash: learning to hash as scikit-learn estimators, and fast Hamming-space search."""

from ._baselines import ITQHasher, LSHHasher, PCAHasher
from ._sch import SCHHasher
from ._wsl import WSLHasher
from .codes import pack_codes, unpack_codes
from .neighbors import (
    HammingKNeighborsTransformer,
    HammingNeighbors,
    HammingRadiusNeighborsTransformer,
    HashingNearestNeighbors,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "DHAHasher",
    "FisherHasher",
    "HammingKNeighborsTransformer",
    "HammingNeighbors",
    "HammingRadiusNeighborsTransformer",
    "HashNetHasher",
    "HashingNearestNeighbors",
    "ITQHasher",
    "LSHHasher",
    "PCAHasher",
    "SCHHasher",
    "WSLHasher",
    "pack_codes",
    "unpack_codes",
]

# The deep hashers need torch, which takes seconds to import: they are imported on first
# use (PEP 562), so that code that only encodes or searches never loads it.
_DEEP = ("DHAHasher", "FisherHasher", "HashNetHasher")


def __getattr__(name):
    if name in _DEEP:
        from . import deep

        value = getattr(deep, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_DEEP))
