"""skhash: learning to hash as scikit-learn estimators, and fast Hamming-space search."""

from ._baselines import ITQHasher, LSHHasher, PCAHasher
from ._sch import SCHHasher
from ._wsl import WSLHasher
from .codes import pack_codes, unpack_codes
from .deep import DHAHasher, FisherHasher, HashNetHasher
from .neighbors import HammingNeighbors

__version__ = "0.1.0.dev0"

__all__ = [
    "DHAHasher",
    "FisherHasher",
    "HammingNeighbors",
    "HashNetHasher",
    "ITQHasher",
    "LSHHasher",
    "PCAHasher",
    "SCHHasher",
    "WSLHasher",
    "pack_codes",
    "unpack_codes",
]
