"""pytest configuration shared by the whole repository."""

# skhash.dask is optional (pip install skhash[dask]): without Dask its module cannot be
# imported, so its doctests are not collected; tests/test_dask.py skips itself.
try:
    import dask  # noqa: F401
except ImportError:
    collect_ignore = ["skhash/dask.py"]
