"""How skhash compiles and launches its numba kernels: caching, thread count, thread safety.

Every kernel is compiled with the same options (:func:`jit`): cached on disk, without the
GIL and without bounds checks. numba refuses ``cache=True`` when it finds no writable
cache directory (a read-only install with a read-only home); the kernels are then
compiled without a cache in each process, after one warning. ``NUMBA_CACHE_DIR`` names a
directory to use instead.

A kernel parallel over queries (:func:`parallel_jit`) is compiled twice on demand: a
serial version, run when the calling thread allows one numba thread (the default
``n_jobs=None``), and the ``parallel=True`` version otherwise. The serial one compiles
several times faster, and it launches no parallel region, so it never meets the limits
of numba's threading layers. A caller can ask for the parallel version even for one
thread (``serial=False``): the Hamming loops over several words per code run about
twice as fast in it, as numba compiles a parallel loop's body knowing that its array
arguments do not overlap, which a standalone function cannot assume.

numba's ``workqueue`` layer (its fallback when neither TBB nor OpenMP is available)
aborts the process when two threads launch parallel regions at once, so under it
parallel launches take a lock.
"""

import threading
import types
import warnings

import numba
from joblib import effective_n_jobs
from numba.core.errors import NumbaWarning

__all__ = ["Threads", "jit", "parallel_jit"]

_OPTIONS = {"cache": True, "nogil": True, "boundscheck": False}
_no_cache_warned = False
_launch_lock = threading.Lock()


def _warn_no_cache(func, exc):
    global _no_cache_warned
    if _no_cache_warned:
        return
    _no_cache_warned = True
    warnings.warn(
        "skhash found no writable directory for numba's cache (the package directory "
        f"and the user cache directory are read-only: {exc}); its kernels are compiled "
        "without a cache, again in every new process. Set the environment variable "
        "NUMBA_CACHE_DIR to a writable directory to cache them.",
        NumbaWarning,
        stacklevel=2,
    )


def _njit(func, options):
    try:
        return numba.njit(**{**_OPTIONS, **options})(func)
    except RuntimeError as exc:
        # numba raises at decoration when ``cache=True`` finds no cache locator.
        _warn_no_cache(func, exc)
    return numba.njit(**{**_OPTIONS, **options, "cache": False})(func)


def jit(func=None, **options):
    """``numba.njit`` with skhash's options (``cache``, ``nogil``, no bounds checks),
    falling back to no cache where none can be written."""
    if func is None:
        return lambda f: _njit(f, options)
    return _njit(func, options)


class _ParallelKernel:
    """A ``prange`` kernel: serial for one numba thread, ``parallel=True`` for more."""

    def __init__(self, func, options):
        self.__name__ = func.__name__
        self.__doc__ = func.__doc__
        self.__wrapped__ = func
        self._options = options
        self._serial = None
        self._parallel = None
        self._lock = threading.Lock()

    def _compiled(self, parallel):
        with self._lock:
            return self._dispatcher(parallel)

    def _dispatcher(self, parallel):
        if parallel:
            if self._parallel is None:
                self._parallel = _njit(self.__wrapped__, {**self._options, "parallel": True})
            return self._parallel
        if self._serial is None:
            # numba's cache index is keyed on the code, not on the compile options:
            # the serial twin gets its own name so that it gets its own cache file.
            f = self.__wrapped__
            twin = types.FunctionType(
                f.__code__, f.__globals__, f.__name__, f.__defaults__, f.__closure__
            )
            twin.__qualname__ = f.__qualname__ + "_serial"
            twin.__module__ = f.__module__
            self._serial = _njit(twin, self._options)
        return self._serial

    def __call__(self, *args, serial=True):
        if serial and numba.get_num_threads() == 1:
            return self._compiled(False)(*args)
        kernel = self._compiled(True)
        if _launches_need_lock():
            with _launch_lock:
                return kernel(*args)
        return kernel(*args)


def _launches_need_lock():
    """Whether parallel launches must be serialised: under the workqueue layer, or
    before the first launch, when numba has not chosen its layer yet."""
    try:
        return numba.threading_layer() == "workqueue"
    except ValueError:
        return True


def parallel_jit(func=None, **options):
    """A kernel parallel over ``prange``, compiled serial or parallel per the calling
    thread's numba thread count (see :class:`Threads`). Calls take ``serial=False`` to
    run the parallel version even for one thread."""
    if func is None:
        return lambda f: _ParallelKernel(f, options)
    return _ParallelKernel(func, options)


class Threads:
    """numba's thread count of the calling thread set from ``n_jobs`` for a block,
    restored afterwards. numba keeps the count per thread, so concurrent blocks in
    other threads keep their own."""

    def __init__(self, n_jobs):
        n = effective_n_jobs(n_jobs)
        self.n_threads = max(1, min(n, numba.config.NUMBA_NUM_THREADS))

    def __enter__(self):
        self._saved = numba.get_num_threads()
        numba.set_num_threads(self.n_threads)
        return self

    def __exit__(self, *exc):
        numba.set_num_threads(self._saved)
        return False
