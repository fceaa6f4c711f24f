"""Deep hashers: torch networks trained on pairwise supervision, as scikit-learn estimators."""

from ._base import BaseDeepHasher, DeviceWarning
from ._dha import DHAHasher
from ._fisher import FisherHasher
from ._hashnet import HashNetHasher

__all__ = ["BaseDeepHasher", "DHAHasher", "DeviceWarning", "FisherHasher", "HashNetHasher"]
