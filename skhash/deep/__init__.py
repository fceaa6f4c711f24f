"""Deep hashers: torch networks trained on pairwise supervision, as scikit-learn estimators."""

from ._base import BaseDeepHasher, DeviceWarning
from ._hashnet import HashNetHasher

__all__ = ["BaseDeepHasher", "DeviceWarning", "HashNetHasher"]
