"""Deployment: read-only installs, what ``import skhash`` loads, numba threading layers."""

import ctypes
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import skhash

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE = 1


def _drop_write_override():
    """Child of a root process: lose CAP_DAC_OVERRIDE (root writing through file
    permissions) for the program it runs; reading and searching stay allowed, so the
    interpreter and site-packages in root's home remain readable."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_CAPBSET_DROP, _CAP_DAC_OVERRIDE, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _read_only_tree(path):
    """Make every directory and file under ``path`` read-only for everyone."""
    for root, _dirs, files in os.walk(path):
        for name in files:
            os.chmod(os.path.join(root, name), 0o444)
        os.chmod(root, 0o555)


def _run_python(code, env, cwd):
    """Run ``code`` in a fresh interpreter that cannot write where permissions forbid it."""
    preexec = _drop_write_override if os.geteuid() == 0 else None
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=cwd,
        preexec_fn=preexec,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "PYTHON"))}
    env.pop("XDG_CACHE_HOME", None)
    env.update(extra)
    return env


_KERNELS = """
    import numpy as np
    from skhash import HammingNeighbors
    from skhash.metrics import mean_average_precision, precision_at_k

    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    codes = (rng.random((300, 32)) < 0.5).astype(np.uint8)
    codes[y == 0, :8] = 1
    results = {}
    for algorithm in ("brute", "mih"):
        nn = HammingNeighbors(n_neighbors=5, algorithm=algorithm).fit(codes)
        dist, ind = nn.kneighbors(codes[:40])
        rdist, rind = nn.radius_neighbors(codes[:40], radius=12, sort_results=True)
        results[algorithm] = [
            dist.tolist(), ind.tolist(), [r.tolist() for r in rind]
        ]
    results["map"] = float(mean_average_precision(codes[:40], y[:40], codes, y))
    results["p@k"] = float(precision_at_k(codes[:40], y[:40], codes, y, k=10))
"""


def test_read_only_install_imports_and_runs_every_kernel(tmp_path):
    """A non-editable copy in a directory nobody may write, with a read-only HOME and no
    NUMBA_CACHE_DIR, imports and runs every kernel family with at most one warning."""
    site = tmp_path / "site"
    shutil.copytree(
        Path(skhash.__file__).parent,
        site / "skhash",
        ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"),
    )
    home = tmp_path / "home"
    home.mkdir()
    _read_only_tree(site)
    _read_only_tree(home)
    os.chmod(tmp_path, 0o755)
    code = f"""
    import json, os, sys, warnings
    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import skhash
{textwrap.indent(textwrap.dedent(_KERNELS), "        ")}
    try:
        open(os.path.join(os.path.dirname(skhash.__file__), "probe"), "w")
        writable = True
    except OSError:
        writable = False
    print(json.dumps({{
        "file": skhash.__file__,
        "writable": writable,
        "warnings": [f"{{w.category.__name__}}: {{w.message}}" for w in caught],
        "results": results,
    }}))
    """
    # The kernels are also run here, in the test process, as the reference.
    env = _clean_env(HOME=str(home), PYTHONPATH=str(site))
    proc = _run_python(code, env, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["file"].startswith(str(site))
    assert not out["writable"], "the copy must be read-only for the test to mean anything"
    assert len(out["warnings"]) <= 1, out["warnings"]
    reference = {}
    exec(textwrap.dedent(_KERNELS), reference)
    assert out["results"] == json.loads(json.dumps(reference["results"]))


def test_numba_cache_dir_is_used_when_set(tmp_path):
    """With NUMBA_CACHE_DIR set, a read-only install caches its kernels there, silently."""
    site = tmp_path / "site"
    shutil.copytree(
        Path(skhash.__file__).parent,
        site / "skhash",
        ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"),
    )
    _read_only_tree(site)
    cache = tmp_path / "cache"
    cache.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(cache, 0o777)
    code = """
    import warnings
    warnings.simplefilter("error")
    import numpy as np
    from skhash.metrics import mean_average_precision

    y = np.arange(20) % 3
    codes = (np.random.default_rng(0).random((20, 16)) < 0.5).astype(np.uint8)
    mean_average_precision(codes, y)
    """
    env = _clean_env(HOME=str(tmp_path), PYTHONPATH=str(site), NUMBA_CACHE_DIR=str(cache))
    proc = _run_python(code, env, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert any(p.suffix == ".nbi" for p in cache.rglob("*"))


@pytest.fixture(autouse=True)
def _writable_tmp(tmp_path):
    """Give pytest back a tree it can delete after the read-only copies."""
    yield
    for root, _dirs, _files in os.walk(tmp_path):
        os.chmod(root, stat.S_IRWXU)


_CONCURRENT = """
    import threading
    import numba
    import numpy as np
    from skhash import HammingNeighbors
    from skhash.metrics import mean_average_precision

    rng = np.random.default_rng(0)
    # 64-bit codes run serial kernels on one thread, 128-bit ones parallel kernels.
    codes = {b: (rng.random((3000, b)) < 0.5).astype(np.uint8) for b in (64, 128)}
    y = rng.integers(0, 5, 3000)
    indexes = [
        HammingNeighbors(n_neighbors=10, algorithm=a, n_jobs=n_jobs).fit(codes[b])
        for a in ("brute", "mih") for b in (64, 128) for n_jobs in (1, 2)
    ]

    def work(t):
        nn = indexes[t]
        n_jobs = nn.n_jobs
        codes_t = codes[nn.n_bits_]
        sl = slice(100 * t, 100 * t + 100)
        return (
            nn.kneighbors(codes_t[sl])[1].tolist(),
            [r.tolist() for r in nn.radius_neighbors(codes_t[sl], radius=20)[1]],
            mean_average_precision(codes_t[sl], y[sl], codes_t, y, n_jobs=n_jobs),
        )

    serial = [work(t) for t in range(8)]
    barrier = threading.Barrier(8)
    results = [[] for _ in range(8)]

    def run(t):
        barrier.wait()
        for _ in range(3):
            results[t].append(work(t))

    threads = [threading.Thread(target=run, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert numba.threading_layer() == "workqueue", numba.threading_layer()
    assert all(r == [serial[t]] * 3 for t, r in enumerate(results))
    print("ok")
"""


def test_concurrent_queries_are_safe_under_the_workqueue_layer():
    """Under numba's workqueue layer, 8 threads querying and scoring at once (brute and
    mih, 64 and 128 bits, one and two numba threads each) neither abort nor change a
    result."""
    env = _clean_env(NUMBA_THREADING_LAYER="workqueue", NUMBA_NUM_THREADS="2")
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_CONCURRENT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])
    assert proc.stdout.strip().endswith("ok")


def test_thread_count_of_one_thread_leaves_others_alone():
    """n_jobs of a call in one thread does not change numba's thread count in another."""
    import threading

    import numba

    from skhash._numba import Threads

    seen = []
    inside = threading.Event()
    done = threading.Event()

    def holder():
        with Threads(1):
            inside.set()
            done.wait(10)

    before = numba.get_num_threads()
    t = threading.Thread(target=holder)
    t.start()
    inside.wait(10)
    seen.append(numba.get_num_threads())
    done.set()
    t.join()
    assert seen == [before]


def test_import_does_not_load_torch():
    """``import skhash`` and a search do not import torch; the deep hashers load it when
    first named, by attribute, by ``from skhash import``, and are listed in dir()."""
    code = """
    import sys
    import numpy as np
    import skhash
    from skhash import HammingNeighbors

    HammingNeighbors(n_neighbors=1).fit(np.eye(8, dtype=np.uint8)).kneighbors()
    assert "torch" not in sys.modules, "torch imported by import skhash"
    assert {"DHAHasher", "FisherHasher", "HashNetHasher"} <= set(dir(skhash))
    from skhash import HashNetHasher
    assert "torch" in sys.modules
    from skhash.deep import DHAHasher, FisherHasher, HashNetHasher as H
    assert HashNetHasher is H
    assert skhash.DHAHasher is DHAHasher and skhash.FisherHasher is FisherHasher
    assert all(hasattr(skhash, name) for name in skhash.__all__)
    try:
        skhash.NoSuchHasher
    except AttributeError as exc:
        assert "NoSuchHasher" in str(exc)
    else:
        raise AssertionError("no AttributeError")
    print("ok")
    """
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")
