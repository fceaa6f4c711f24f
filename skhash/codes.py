"""Binary codes: packing to bytes and back, and input checks shared by every module."""

import numbers

import numpy as np
import scipy.sparse as sp

__all__ = ["pack_codes", "unpack_codes", "n_bytes"]


def n_bytes(n_bits):
    """Number of bytes that hold ``n_bits`` packed bits, ``ceil(n_bits / 8)``."""
    return (int(n_bits) + 7) // 8


def check_codes(codes, *, name="codes", allow_empty=False):
    """Validate unpacked codes and return them as a boolean array (bit = value > 0).

    Accepts any numeric or boolean array-like of shape (n_samples, n_bits). Raises a
    ``ValueError`` naming the problem for NaN/inf, sparse input, the wrong number of
    dimensions, non-numeric dtypes and (unless ``allow_empty``) empty input.
    """
    if sp.issparse(codes):
        raise TypeError(
            f"{name} must be a dense array; got a sparse matrix. Convert it with "
            ".toarray() first."
        )
    arr = np.asarray(codes)
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be numeric or boolean; got dtype object.") from exc
    if not (arr.dtype == bool or np.issubdtype(arr.dtype, np.number)):
        raise ValueError(f"{name} must be numeric or boolean; got dtype {arr.dtype}.")
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real-valued; got complex dtype {arr.dtype}.")
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_bits); got an array "
            f"with {arr.ndim} dimension(s) and shape {arr.shape}."
        )
    if not allow_empty and (arr.shape[0] == 0 or arr.shape[1] == 0):
        raise ValueError(
            f"{name} is empty: got shape {arr.shape}; at least one sample and one bit "
            "are required."
        )
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity; binary codes must be finite.")
    return arr > 0


def pack_codes(codes):
    """Pack binary codes into bytes, eight bits per byte.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_bits)
        Codes of any numeric or boolean dtype. A bit is set where the value is
        strictly positive, so {-1, +1}, {0, 1} and boolean codes all work, and so
        does the sign of a real-valued embedding.

    Returns
    -------
    packed : ndarray of shape (n_samples, ceil(n_bits / 8)), dtype uint8
        The bits in :func:`numpy.packbits` order (big-endian within each byte); the
        unused low bits of the last byte are zero.

    See Also
    --------
    unpack_codes : The inverse operation.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.codes import pack_codes
    >>> pack_codes(np.array([[1, -1, 1, 1, -1, -1, -1, -1, 1]]))
    array([[176, 128]], dtype=uint8)
    """
    bits = check_codes(codes)
    return np.packbits(bits, axis=1)


def unpack_codes(packed, n_bits, *, dtype=np.int8):
    """Unpack bytes produced by :func:`pack_codes` into codes in {-1, +1}.

    Parameters
    ----------
    packed : array-like of shape (n_samples, ceil(n_bits / 8)), dtype uint8
        Packed codes.
    n_bits : int
        Number of bits per code; the padding bits of the last byte are dropped.
    dtype : dtype, default=np.int8
        Output dtype. ``bool`` gives {False, True} instead of {-1, +1}.

    Returns
    -------
    codes : ndarray of shape (n_samples, n_bits)
        Codes in {-1, +1} (or booleans when ``dtype=bool``).

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.codes import unpack_codes
    >>> unpack_codes(np.array([[176, 128]], dtype=np.uint8), n_bits=9)
    array([[ 1, -1,  1,  1, -1, -1, -1, -1,  1]], dtype=int8)
    """
    packed = check_packed(packed, name="packed")
    if not isinstance(n_bits, numbers.Integral) or isinstance(n_bits, bool) or n_bits < 1:
        raise ValueError(f"n_bits must be a positive integer; got n_bits={n_bits!r}.")
    if packed.shape[1] != n_bytes(n_bits):
        raise ValueError(
            f"packed codes have {packed.shape[1]} bytes per row but n_bits={n_bits} "
            f"needs {n_bytes(n_bits)}."
        )
    bits = np.unpackbits(packed, axis=1, count=int(n_bits)).astype(bool)
    if np.dtype(dtype) == np.bool_:
        return bits
    out = np.where(bits, 1, -1).astype(dtype)
    return out


def check_packed(packed, *, name="X", allow_empty=False):
    """Validate packed codes: a 2-D uint8 array (C-contiguous copy if needed)."""
    if sp.issparse(packed):
        raise TypeError(f"{name} must be a dense uint8 array; got a sparse matrix.")
    arr = np.asarray(packed)
    if arr.dtype != np.uint8:
        raise ValueError(
            f"packed codes in {name} must have dtype uint8 (as produced by "
            f"skhash.codes.pack_codes or numpy.packbits); got dtype {arr.dtype}."
        )
    if arr.ndim != 2:
        raise ValueError(
            f"packed codes in {name} must be 2-D (n_samples, n_bytes); got shape "
            f"{arr.shape}."
        )
    if not allow_empty and (arr.shape[0] == 0 or arr.shape[1] == 0):
        raise ValueError(f"{name} is empty: got shape {arr.shape}.")
    return np.ascontiguousarray(arr)
