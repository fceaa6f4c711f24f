"""When multi-index tables answer a query call: the cost policy of ``algorithm="auto"``.

``"brute"`` never builds tables and ``"mih"`` builds them at fit. ``"auto"`` stores only
the codes at fit, estimates per k (or radius) what the tables would cost from a few
pilot queries, and builds them once the scan time they would have saved covers their
build time (a rent-or-buy rule). The HammingNeighbors Notes and the user guide describe
the rule; ``benchmarks/bench_mih.py`` measures it.
"""

import numpy as np

from . import _mih
from ._mih import MIHIndex, default_n_substrings, estimate_work, knn_radii, substring_layout

__all__ = ["AUTO_MIN_SAMPLES", "BUILD_COST", "PILOT_QUERIES", "TablePolicy", "spread_rows"]

# Below this many codes "auto" always scans and builds no tables.
AUTO_MIN_SAMPLES = 100_000
# Queries of the first call for a given k (or radius) whose multi-index work is
# estimated, spread evenly over the call's queries so that a sorted query stream does
# not skew the estimate. For k-NN they are answered by the exhaustive kernel, whose
# k-th distances say how far the tables would have to be probed.
PILOT_QUERIES = 32
# Database rows (evenly spaced) on which the rows listed by the tables are counted.
SAMPLE_ROWS = 2048
# Time to build the tables, in rows of the exhaustive scan per code and table; the
# user guide gives the measured range, which this bound leaves room above.
BUILD_COST = 100.0


def spread_rows(n, n_rows):
    """``min(n, n_rows)`` distinct row indices spread evenly over ``range(n)`` (the
    middles of equal parts), in increasing order."""
    p = min(n, n_rows)
    return (2 * np.arange(p, dtype=np.int64) + 1) * n // (2 * p)


class TablePolicy:
    """Multi-index tables over an index's codes, and when they answer a call.

    Parameters
    ----------
    db_words : ndarray of shape (n_words, n_samples)
        The index's codes, word-major (shared, not copied).
    n_bits : int
        Code length.
    algorithm : {"auto", "mih"}
        ``"mih"`` builds the tables now and always uses them; ``"auto"`` builds them
        when they pay off.
    n_substrings : int or None
        Number of tables m; None chooses from the index size.

    Attributes
    ----------
    tables : MIHIndex or None
        The tables once built.
    cost : dict
        ``"auto"``: the estimated multi-index cost per query, in rows of the exhaustive
        scan, per ``("k", k)`` or ``("radius", bits)``.
    """

    def __init__(self, db_words, n_bits, algorithm, n_substrings=None):
        self.db_words = db_words
        self.n_bits = int(n_bits)
        self.n_samples = int(db_words.shape[1])
        self.algorithm = algorithm
        m = n_substrings
        if m is None:
            m = default_n_substrings(self.n_bits, self.n_samples)
        substring_layout(self.n_bits, m, 1)  # a bad n_substrings fails in fit
        self.m = int(m)
        self.tables = None
        self.cost = {}
        self.saved = 0.0  # scan time (rows) the tables would have saved so far
        if algorithm == "mih":
            self.build()

    @classmethod
    def for_index(cls, db_words, n_bits, algorithm, n_substrings=None):
        """The policy an index of ``db_words`` needs, or None when it always scans."""
        n_samples = db_words.shape[1]
        if algorithm == "mih" or (algorithm == "auto" and n_samples >= AUTO_MIN_SAMPLES):
            return cls(db_words, n_bits, algorithm, n_substrings)
        return None

    def build(self):
        """Build the tables (at fit for "mih", when they pay off for "auto")."""
        self.tables = MIHIndex(
            np.ascontiguousarray(self.db_words.T), self.n_bits, self.m, db_words=self.db_words
        )

    def needs_estimate(self, key):
        """Whether a call for ``key`` must first estimate the tables' cost ("auto")."""
        return self.algorithm == "auto" and key not in self.cost

    def estimate(self, key, Q, *, kth=None, radius=None):
        """Store the mean estimated multi-index cost (rows of the exhaustive scan) of a
        k-NN search of the queries ``Q`` whose k-th distances are ``kth``, or of a
        radius search of ``radius`` bits."""
        edges, sub_bits, _ = substring_layout(self.n_bits, self.m, 1)
        if kth is not None:
            radii = knn_radii(kth, sub_bits)
        else:
            radii = np.tile(np.minimum(radius // self.m, sub_bits), (len(Q), 1))
        step = max(1, self.n_samples // SAMPLE_ROWS)
        sample = self.db_words[:, ::step].T
        probes, listed = estimate_work(Q, sample, self.n_samples, self.n_bits, edges, radii)
        self.cost[key] = float(np.mean(_mih.estimated_cost(probes, listed)))

    def tables_for(self, key, n_past, n_ahead):
        """The tables if they answer the ``n_ahead`` queries still to come in this call
        for ``key`` (``n_past`` of its queries having been scanned), else None. "auto"
        builds them once the scan time they would have saved, with this call's, covers
        their estimated build time."""
        if self.algorithm == "mih":
            return self.tables
        saving = self.n_samples - self.cost[key]  # rows per query
        if saving <= 0:
            return None
        if self.tables is not None:
            return self.tables
        self.saved += saving * n_past
        if self.saved + saving * n_ahead >= BUILD_COST * self.m * self.n_samples:
            self.build()
            return self.tables
        self.saved += saving * n_ahead
        return None
