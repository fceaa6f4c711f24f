"""Supervision for hashers: labels or pairs turned into pairwise similarity, sparsely."""

import numbers
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

__all__ = [
    "Supervision",
    "check_labels",
    "check_pairs",
    "check_supervision",
    "encode_class_labels",
    "label_similarity",
    "pairs_to_csr",
]

_KINDS = ("binary", "jaccard", "cosine")

# All pairs of a training set (n_pairs_per_sample=None, or at least n_samples - 1) are
# used only up to this many unordered pairs, each returned once as (i, j, s): about
# 120 MB before any hasher's own copies.
_MAX_ALL_PAIRS = 5_000_000

# Pairs whose multi-label similarity is computed at once, bounding the sparse rows
# gathered for them (also the block size of the other pairwise loops here).
_PAIR_CHUNK = 1 << 20

# Up to this many labels in use, the search for a dissimilar pair runs over all 2^L
# label subsets (4 MB at 20); beyond, over pairs of distinct label sets.
_SUBSET_LABELS = 20


def _label_kind(arr, name):
    """What a 1-D label array holds, ``"number"``, ``"string"`` or ``"bytes"``.

    Raises a ValueError naming the first offending entry for a missing label (None,
    NaN), a value that is neither a number nor a string, or an array mixing strings
    and numbers: labels are compared as values, and ``"1"`` is not ``1``.
    """
    dtype_kind = arr.dtype.kind
    if dtype_kind in "biuf":
        if dtype_kind == "f" and not np.isfinite(arr).all():
            pos = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise ValueError(
                f"{name} contains NaN or infinity ({arr[pos]} at position {pos}); class "
                "labels must be finite (a missing label is not a class)."
            )
        return "number"
    if dtype_kind == "U":
        return "string"
    if dtype_kind == "S":
        return "bytes"
    if dtype_kind != "O":
        raise ValueError(
            f"{name} must hold numbers or strings as class labels; got dtype {arr.dtype}."
        )
    first = {}  # kind -> (position, value) of its first entry
    for pos, value in enumerate(arr.tolist()):
        if isinstance(value, str):
            kind = "string"
        elif isinstance(value, bytes):
            kind = "bytes"
        elif isinstance(value, numbers.Real | np.bool_):
            if isinstance(value, float | np.floating) and not np.isfinite(value):
                raise ValueError(
                    f"{name} contains NaN or infinity ({value} at position {pos}); class "
                    "labels must be finite (a missing label is not a class)."
                )
            kind = "number"
        elif value is None:
            raise ValueError(
                f"{name} contains None at position {pos}; every sample needs a class "
                "label (a missing label is not a class)."
            )
        else:
            raise ValueError(
                f"{name} must hold numbers or strings as class labels; got "
                f"{value!r} of type {type(value).__name__} at position {pos}."
            )
        first.setdefault(kind, (pos, value))
    if len(first) > 1:
        (k1, (p1, v1)), (k2, (p2, v2)) = sorted(first.items(), key=lambda kv: kv[1][0])[:2]
        raise ValueError(
            f"{name} mixes label types: {v1!r} ({k1}, position {p1}) and {v2!r} ({k2}, "
            f"position {p2}). Class labels are compared as values of one type (the "
            "string '1' is not the number 1); convert them all to numbers or all to "
            "strings."
        )
    return next(iter(first), "number")


def encode_class_labels(*labels, names):
    """Map 1-D class label arrays to indices on their common vocabulary.

    Every array must hold numbers, or every array strings (see Raises): the labels are
    compared as values of one type, as scikit-learn's ``unique_labels`` does, so a
    string ``"1"`` never matches a number ``1`` (while ``1``, ``1.0`` and ``True``
    are equal numbers).

    Parameters
    ----------
    *labels : 1-D ndarrays
        Class labels, e.g. of queries and of the database.
    names : sequence of str
        The arrays' names, for error messages.

    Returns
    -------
    classes : ndarray
        The sorted distinct labels of all arrays together.
    indices : list of ndarray of int64
        Each array's labels as indices into ``classes``.

    Raises
    ------
    ValueError
        For None, NaN or infinity, a value that is neither a number nor a string, and
        strings mixed with numbers, within an array or across arrays.
    """
    kinds = [_label_kind(arr, name) for arr, name in zip(labels, names, strict=True)]
    if len(set(kinds)) > 1:
        described = " but ".join(
            f"{name} are {kind}s" for name, kind in zip(names, kinds, strict=True)
        )
        raise ValueError(
            f"{described}. Class labels are compared as values of one type (the string "
            "'1' is not the number 1); convert them all to numbers or all to strings."
        )
    classes, inverse = np.unique(np.concatenate(labels), return_inverse=True)
    inverse = inverse.ravel().astype(np.int64)
    bounds = np.cumsum([0] + [len(arr) for arr in labels])
    return classes, [inverse[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def check_labels(y, n_samples=None, *, name="y"):
    """Validate class labels or a multi-label indicator matrix.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_labels), or sparse
        1-D class labels (numbers, or strings: see :func:`encode_class_labels`), or a
        0/1 indicator matrix.
    n_samples : int, default=None
        Expected number of rows.
    name : str, default="y"
        What ``y`` is called in error messages.

    Returns
    -------
    Y : scipy.sparse.csr_matrix of shape (n_samples, n_labels), dtype float64
        0/1 indicator matrix.
    classes : ndarray
        The class values (1-D input) or the column indices (indicator input).
    multilabel : bool
        Whether ``y`` was an indicator matrix.
    """
    if y is None:
        raise ValueError(f"{name} is None; class labels or a label indicator matrix are required.")
    if sp.issparse(y):
        Y = sp.csr_matrix(y, dtype=np.float64)
        multilabel = True
    else:
        arr = np.asarray(y)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr.ravel()
        if arr.ndim == 1:
            classes, (inverse,) = encode_class_labels(arr, names=[name])
            n = arr.shape[0]
            Y = sp.csr_matrix((np.ones(n), (np.arange(n), inverse)), shape=(n, len(classes)))
            multilabel = False
        elif arr.ndim == 2:
            if arr.dtype.kind not in "biuf":
                raise ValueError(
                    f"a 2-D {name} must be a numeric 0/1 indicator matrix; got dtype {arr.dtype}."
                )
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                raise ValueError(f"label indicator matrix {name} contains NaN or infinity.")
            Y = sp.csr_matrix(arr.astype(np.float64))
            multilabel = True
        else:
            raise ValueError(
                f"{name} must be 1-D class labels or a 2-D indicator matrix; got shape {arr.shape}."
            )
    if multilabel:
        Y.eliminate_zeros()
        if Y.nnz and not np.all(Y.data == 1):
            bad = Y.data[Y.data != 1][0]
            raise ValueError(
                f"a 2-D {name} must be a 0/1 indicator matrix of labels; found the "
                f"value {float(bad)}."
            )
        classes = np.arange(Y.shape[1])
    if n_samples is not None and Y.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {Y.shape[0]} rows but X has {n_samples} samples; they must match."
        )
    return Y, classes, multilabel


def label_similarity(Ya, Yb, kind="binary"):
    """Dense similarity block between two sets of label indicator rows.

    Parameters
    ----------
    Ya, Yb : sparse or dense indicator matrices with the same number of columns
    kind : {"binary", "jaccard", "cosine"}
        ``"binary"``: 1 when the samples share a label, else 0. ``"jaccard"``:
        |y_i ∩ y_j| / |y_i ∪ y_j|. ``"cosine"``: y_i·y_j / (|y_i| |y_j|).

    Returns
    -------
    S : ndarray of shape (len(Ya), len(Yb)), dtype float64, values in [0, 1]
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}; got kind={kind!r}.")
    inter = Ya @ Yb.T
    inter = inter.toarray() if sp.issparse(inter) else np.asarray(inter, dtype=np.float64)
    if kind == "binary":
        return (inter > 0).astype(np.float64)
    na = np.asarray(Ya.sum(axis=1)).ravel()
    nb = np.asarray(Yb.sum(axis=1)).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "jaccard":
            denom = na[:, None] + nb[None, :] - inter
        else:
            denom = np.sqrt(na[:, None] * nb[None, :])
        S = np.where(denom > 0, inter / np.where(denom > 0, denom, 1.0), 0.0)
    return S


def check_pairs(pairs, n_samples):
    """Validate pairwise supervision.

    Parameters
    ----------
    pairs : array-like of shape (n_pairs, 3) or sparse matrix of shape (n, n)
        Rows ``(i, j, s)`` with integer sample indices ``i, j`` in ``[0, n_samples)``
        and similarity ``s`` in [0, 1] (1 similar, 0 dissimilar, values between are
        continuous similarity). A sparse matrix lists one pair per stored entry, so
        a dissimilar pair is an explicitly stored zero.
    n_samples : int

    Returns
    -------
    i, j : ndarray of int64
    s : ndarray of float64
    """
    if sp.issparse(pairs):
        if pairs.shape != (n_samples, n_samples):
            raise ValueError(
                f"a sparse similarity matrix must have shape ({n_samples}, {n_samples}) "
                f"to match X; got {pairs.shape}."
            )
        coo = sp.coo_matrix(pairs)
        i, j, s = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data
        s = np.asarray(s, dtype=np.float64)
    else:
        arr = np.asarray(pairs, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 3:
            raise ValueError(
                f"pairs must have shape (n_pairs, 3) with rows (i, j, s); got shape {arr.shape}."
            )
        if not np.isfinite(arr).all():
            raise ValueError("pairs contain NaN or infinity.")
        ij = arr[:, :2]
        if not np.all(ij == np.round(ij)):
            bad = float(ij[ij != np.round(ij)][0])
            raise ValueError(f"pair indices i and j must be integers; got {bad}.")
        i, j, s = ij[:, 0].astype(np.int64), ij[:, 1].astype(np.int64), arr[:, 2]
    if len(s) == 0:
        raise ValueError("pairs is empty; at least one labelled pair is required.")
    for name, idx in (("i", i), ("j", j)):
        if idx.min() < 0 or idx.max() >= n_samples:
            bad = idx[(idx < 0) | (idx >= n_samples)][0]
            raise ValueError(
                f"pair index {name}={bad} is out of range for X with {n_samples} "
                f"samples (expected 0 <= {name} < {n_samples})."
            )
    if not np.isfinite(s).all() or s.min() < 0 or s.max() > 1:
        bad = s[~((s >= 0) & (s <= 1))][0]
        raise ValueError(
            f"pair similarity s must lie in [0, 1] (1 similar, 0 dissimilar); got {bad}."
        )
    keep = i != j
    return i[keep], j[keep], s[keep]


def pairs_to_csr(i, j, s, n_samples, *, symmetric=True):
    """Sparse (n, n) matrix of labelled pairs; explicit zeros are kept.

    With ``symmetric=True`` the pair (j, i) is added for every (i, j); where both were
    given, their mean is used. Duplicates are averaged.
    """
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    s = np.asarray(s, dtype=np.float64)
    if symmetric:
        i, j, s = np.concatenate([i, j]), np.concatenate([j, i]), np.concatenate([s, s])
    key = i * n_samples + j
    uniq, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
    vals = np.bincount(inv, weights=s) / counts
    rows, cols = np.divmod(uniq, n_samples)
    # Store s + 1 so explicit zeros survive sparse arithmetic, then shift back.
    M = sp.csr_matrix((vals + 1.0, (rows, cols)), shape=(n_samples, n_samples))
    M.data -= 1.0
    return M


@dataclass
class Supervision:
    """Pairwise supervision over a training set of ``n_samples`` samples.

    Exactly one of ``labels`` (an indicator matrix) and ``pairs`` (a sparse matrix
    whose stored entries are the labelled pairs) is set.
    """

    n_samples: int
    labels: sp.csr_matrix | None = None
    pairs: sp.csr_matrix | None = None
    multilabel: bool = False
    kind: str = "binary"

    @property
    def from_labels(self):
        """Whether the supervision comes from labels (every pair is known)."""
        return self.labels is not None

    def block(self, rows, cols=None):
        """Similarity block between samples ``rows`` and ``cols``.

        Returns
        -------
        S : ndarray of shape (len(rows), len(cols)), float64 in [0, 1]
        known : ndarray of bool of the same shape, or None when every pair is known
            (label supervision). With pair supervision only the given pairs are known.
        """
        rows = np.asarray(rows)
        cols = rows if cols is None else np.asarray(cols)
        if self.labels is not None:
            return label_similarity(self.labels[rows], self.labels[cols], self.kind), None
        sub = self.pairs[rows][:, cols]
        known = np.zeros(sub.shape, dtype=bool)
        S = np.zeros(sub.shape, dtype=np.float64)
        coo = sub.tocoo()
        known[coo.row, coo.col] = True
        S[coo.row, coo.col] = coo.data
        return S, known

    def sample_pairs(self, n_pairs_per_sample=None, random_state=None):
        """Labelled pairs as arrays ``(i, j, s)``, each unordered pair once, ``i < j``.

        ``n_pairs_per_sample`` is the number of samples each sample knows its relation
        to, on average (the SCH paper: 1,000 samples, each knowing 500 others). With
        label supervision, ``n_samples * n_pairs_per_sample // 2`` distinct pairs are
        drawn uniformly among all ``n_samples * (n_samples - 1) / 2``; a sample's
        number of partners then varies around ``n_pairs_per_sample`` (binomially).
        None, or any integer of at least ``n_samples - 1``, returns every pair; this
        is refused with a ``ValueError`` when the training set has more than
        ``_MAX_ALL_PAIRS`` (five million) pairs. With pair supervision, the given pairs
        are returned, or a uniform subset of ``n_samples * n_pairs_per_sample // 2`` of
        them when there are more.

        Time and memory are O(number of pairs returned); no n x n matrix is ever
        built. The same ``random_state`` gives the same pairs.
        """
        rng = check_random_state(random_state)
        n = self.n_samples
        if self.labels is None:
            # The matrix is symmetric: its upper triangle holds each given pair once.
            coo = sp.triu(self.pairs, k=1).tocoo()
            order = np.lexsort((coo.col, coo.row))
            i, j = coo.row[order].astype(np.int64), coo.col[order].astype(np.int64)
            s = coo.data[order]
            if n_pairs_per_sample is not None and len(i) > n * n_pairs_per_sample // 2:
                keep = np.sort(rng.choice(len(i), n * n_pairs_per_sample // 2, replace=False))
                i, j, s = i[keep], j[keep], s[keep]
            return i, j, s
        n_all = n * (n - 1) // 2
        if n_pairs_per_sample is None or n_pairs_per_sample >= n - 1:
            if n_all > _MAX_ALL_PAIRS:
                raise ValueError(
                    f"n_pairs_per_sample={n_pairs_per_sample} uses all {n_all} pairs of "
                    f"the {n} training samples (n_samples={n}; every sample paired with "
                    f"all n_samples - 1 = {n - 1} others), more than the limit of "
                    f"{_MAX_ALL_PAIRS}; pass an integer n_pairs_per_sample below {n - 1} "
                    "to sample that many partners per sample (the paper uses 500)."
                )
            i, j = _all_pairs(n)
        else:
            i, j = _distinct_pairs(n, n * int(n_pairs_per_sample) // 2, rng)
        return i, j, _pair_label_similarity(self.labels, i, j, self.kind)


def _all_pairs(n):
    """Every unordered pair ``i < j`` of ``range(n)``, row by row, without an n x n grid."""
    i = np.repeat(np.arange(n, dtype=np.int64), np.arange(n - 1, -1, -1))
    # Row r holds j = r + 1, ..., n - 1; it starts at position r * n - r * (r + 1) / 2.
    start = i * n - i * (i + 1) // 2
    j = np.arange(len(i), dtype=np.int64) - start + i + 1
    return i, j


def _distinct_pairs(n, n_pairs, rng):
    """``n_pairs`` distinct unordered pairs ``i < j`` of ``range(n)``, uniformly at random.

    Sorted by ``(i, j)``. Draws pairs with replacement and redraws as many as were
    repeats, until ``n_pairs`` distinct ones are held: sequential sampling with
    rejection of repeats, so every set of ``n_pairs`` pairs is equally likely. Above
    half of all pairs, the pairs left out are drawn instead. Time and memory are
    O(n_pairs log n_pairs).
    """
    n_all = n * (n - 1) // 2
    if 2 * n_pairs > n_all:
        out_i, out_j = _distinct_pairs(n, n_all - n_pairs, rng)
        i, j = _all_pairs(n)
        keep = np.ones(n_all, dtype=bool)
        keep[out_i * n - out_i * (out_i + 1) // 2 + out_j - out_i - 1] = False
        return i[keep], j[keep]
    # numpy's Generator draws integers several times faster than RandomState; it is
    # seeded from ``rng``, so the draws stay reproducible.
    gen = np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
    held = np.zeros(0, dtype=np.int64)
    while len(held) < n_pairs:
        m = n_pairs - len(held)
        a = gen.integers(0, n, size=m)
        b = gen.integers(0, n - 1, size=m)
        b += b >= a
        merged = np.sort(np.concatenate([held, np.minimum(a, b) * n + np.maximum(a, b)]))
        held = merged[np.concatenate([[True], merged[1:] != merged[:-1]])]
    return np.divmod(held, n)


def _pair_label_similarity(Y, i, j, kind):
    """Label similarity of the pairs ``(i[k], j[k])`` of indicator rows of ``Y``."""
    sizes = Y.getnnz(axis=1)
    if np.all(sizes == 1):
        # One label per sample (class labels): every kind is 1 on the same label, else 0.
        label = Y.indices
        return (label[i] == label[j]).astype(np.float64)
    s = np.empty(len(i), dtype=np.float64)
    for start in range(0, len(i), _PAIR_CHUNK):
        rows = slice(start, start + _PAIR_CHUNK)
        s[rows] = np.asarray(Y[i[rows]].multiply(Y[j[rows]]).sum(axis=1)).ravel()
    if kind == "binary":
        return (s > 0).astype(np.float64)
    ni, nj = sizes[i].astype(np.float64), sizes[j].astype(np.float64)
    denom = ni + nj - s if kind == "jaccard" else np.sqrt(ni * nj)
    return np.where(denom > 0, s / np.where(denom > 0, denom, 1.0), 0.0)


def _has_dissimilar_pair(Y):
    """Whether two samples of the 0/1 indicator ``Y`` have no label in common.

    A sample with label set u has a dissimilar partner exactly when some sample's set
    lies inside the complement of u. With at most ``_SUBSET_LABELS`` labels in use, the
    number of samples whose set lies inside each of the 2^L label subsets is a
    subset-sum over the subsets: O(n + L 2^L) time. With more labels, blocks of the
    distinct label sets, fewest labels first (the likeliest to have a disjoint
    partner), are compared with all sets until a disjoint pair turns up: at worst
    O(n_sets ** 2) time. Neither builds an n x n matrix.
    """
    n = Y.shape[0]
    sizes = Y.getnnz(axis=1)
    if n < 2:
        return False
    if sizes.min() == 0:
        return True  # a sample without labels is similar to none
    per_label = Y.getnnz(axis=0)
    if per_label.max() == n:
        return False  # one label shared by every sample
    Y = Y[:, np.flatnonzero(per_label)]
    n_labels = Y.shape[1]
    if np.partition(sizes, 1)[:2].sum() > n_labels:
        return False  # any two label sets overlap (pigeonhole)
    if n_labels <= _SUBSET_LABELS:
        sets = np.rint(Y @ (2.0 ** np.arange(n_labels))).astype(np.int64)
        inside = np.bincount(sets, minlength=1 << n_labels).astype(np.int32)
        for bit in range(n_labels):
            halves = inside.reshape(-1, 2, 1 << bit)
            halves[:, 1] += halves[:, 0]
        # inside[m]: samples whose label set is a subset of m.
        return bool(np.any(inside[((1 << n_labels) - 1) ^ sets] > 0))
    step = max(1, _PAIR_CHUNK // n_labels)
    packed = np.concatenate(
        [np.packbits(Y[s : s + step].toarray() > 0, axis=1) for s in range(0, n, step)]
    )
    _, first, multiplicity = np.unique(packed, axis=0, return_index=True, return_counts=True)
    order = np.argsort(sizes[first], kind="stable")
    U = Y[first[order]]
    multiplicity = multiplicity[order].astype(np.float64)
    step = max(1, _PAIR_CHUNK // U.shape[0])
    for start in range(0, U.shape[0], step):
        shared = U[start : start + step] @ U.T
        shared.data[:] = 1.0
        # Samples sharing a label with each set; fewer than n leaves a disjoint one.
        if np.any(shared @ multiplicity < n):
            return True
    return False


def check_supervision(y=None, pairs=None, n_samples=None, *, kind="binary"):
    """Turn ``y`` or ``pairs`` into a :class:`Supervision` and check it can teach.

    Called by :meth:`skhash._base.BaseHasher._check_supervision`, which refuses a fit
    without either. Raises a ``ValueError`` when both are given, when every two samples
    share a label (one class, or label sets that all overlap: no dissimilar pair
    exists), or when no two samples share a label (no similar pair exists).
    """
    if kind not in _KINDS:
        raise ValueError(f"similarity must be one of {_KINDS}; got {kind!r}.")
    if y is not None and pairs is not None:
        raise ValueError("pass either labels y or pairs, not both.")
    if y is not None:
        Y, _, multilabel = check_labels(y, n_samples)
        if Y.nnz == 0:
            raise ValueError(
                f"the label indicator matrix y (shape {Y.shape}) has no positive entry: "
                "no sample has a label, so there are no similar pairs to learn from."
            )
        counts = np.asarray(Y.sum(axis=0)).ravel()
        if not multilabel and (counts > 0).sum() < 2:
            raise ValueError(
                "y has a single class: every pair of samples is similar, so there is "
                "nothing to separate. At least 2 classes are required."
            )
        if multilabel and not _has_dissimilar_pair(Y):
            raise ValueError(
                "every two samples of y share a label: every pair of samples is "
                "similar, so there is nothing to separate. At least two samples with "
                "no label in common are required."
            )
        if counts.max() < 2:
            raise ValueError(
                "no two samples share a label, so there are no similar pairs to learn from."
            )
        return Supervision(n_samples=Y.shape[0], labels=Y, multilabel=multilabel, kind=kind)
    i, j, s = check_pairs(pairs, n_samples)
    if not (s > 0).any():
        raise ValueError("pairs contain no similar pair (s > 0); at least one is required.")
    if not (s == 0).any() and not (s < 1).any():
        raise ValueError("pairs contain no dissimilar pair (s = 0); at least one is required.")
    return Supervision(n_samples=n_samples, pairs=pairs_to_csr(i, j, s, n_samples), kind=kind)
