"""Packing and unpacking binary codes."""

import numpy as np
import pytest

from skhash.codes import pack_codes, unpack_codes


@pytest.mark.parametrize("n_bits", [1, 7, 8, 9, 31, 32, 63, 64, 100, 256])
@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.float32, np.float64, bool])
def test_round_trip_exact(n_bits, dtype):
    """Any dtype of {-1,+1}/{0,1}/bool codes survives pack -> unpack exactly."""
    rng = np.random.default_rng(n_bits)
    bits = rng.random((13, n_bits)) > 0.5
    if dtype is bool:
        codes = bits
    else:
        codes = np.where(bits, 1, -1 if np.dtype(dtype).kind in "if" else 0).astype(dtype)
    packed = pack_codes(codes)
    assert packed.dtype == np.uint8
    assert packed.shape == (13, (n_bits + 7) // 8)
    np.testing.assert_array_equal(unpack_codes(packed, n_bits), np.where(bits, 1, -1))
    np.testing.assert_array_equal(unpack_codes(packed, n_bits, dtype=bool), bits)


def test_pack_matches_numpy_packbits_and_sign_of_embedding():
    """Bits are value > 0 in numpy packbits order, so a real embedding can be hashed."""
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(5, 20))
    np.testing.assert_array_equal(pack_codes(emb), np.packbits(emb > 0, axis=1))
    # zero is not positive: 0/1 codes and {-1, 0, 1} treat 0 as an unset bit
    np.testing.assert_array_equal(pack_codes([[0, 1, 0, 1]]), [[0b01010000]])


@pytest.mark.parametrize(
    "codes, match",
    [
        ([[np.nan, 1.0]], "NaN or infinity"),
        ([[np.inf, 1.0]], "NaN or infinity"),
        ([1, -1, 1], "2-D"),
        (np.zeros((0, 8)), "empty"),
        ([["a", "b"]], "numeric or boolean"),
    ],
)
def test_pack_rejects_bad_codes(codes, match):
    """Bad codes raise a ValueError naming the problem."""
    with pytest.raises(ValueError, match=match):
        pack_codes(codes)


def test_unpack_rejects_wrong_width_and_dtype():
    """Unpacking checks the byte width against n_bits and the uint8 dtype."""
    packed = pack_codes(np.ones((2, 16)))
    with pytest.raises(ValueError, match="needs 3"):
        unpack_codes(packed, 17)
    with pytest.raises(ValueError, match="uint8"):
        unpack_codes(packed.astype(np.int64), 16)
    with pytest.raises(ValueError, match="positive integer"):
        unpack_codes(packed, 0)
