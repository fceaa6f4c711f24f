"""Sphinx configuration of the skhash documentation (numpydoc, pydata theme, sphinx-gallery)."""

import inspect
import os
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import skhash

project = "skhash"
author = "skhash developers"
copyright = "skhash developers, BSD-3-Clause"
release = skhash.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "_api_list.rst", "**.ipynb_checkpoints", "auto_examples/*.md5"]
html_theme = "pydata_sphinx_theme"
html_title = f"skhash {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {
    page: []
    for page in (
        "index",
        "getting_started",
        "command_line",
        "choosing",
        "migrating",
        "scaling",
        "evaluation",
        "api",
    )
}

autosummary_generate = ["api.rst", "_api_list.rst"]
autodoc_default_options = {"members": True}
# The scikit-learn API every estimator inherits (get_params, set_output, ...) is
# documented by scikit-learn; its docstrings link into scikit-learn's own docs.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": str(HERE / "auto_examples"),
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("skhash",),
    "backreferences_dir": str(HERE / "generated" / "backreferences"),
    "show_memory": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "min_reported_time": 1,
}

# Examples run with the Agg backend and without interactive windows.
os.environ.setdefault("MPLBACKEND", "Agg")

# Examples run with one BLAS/OpenMP thread, as the deep hashers do by default (n_jobs=None):
# their printed numbers then do not depend on the machine's core count, and a busy
# machine does not turn a 0.1 s fit into seconds of threads waiting for a core.
from threadpoolctl import threadpool_limits

_one_thread = threadpool_limits(limits=1)
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")


# -- API reference: generated from the public names, so new estimators appear by themselves


def _api_sections():
    """(title, module, [names]) for the API page, each public object listed once."""
    from skhash._base import BaseHasher

    seen = set()

    def take(module, names):
        out = []
        for name in names:
            obj = getattr(module, name)
            if id(obj) not in seen:
                seen.add(id(obj))
                out.append(name)
        return out

    top = list(skhash.__all__)
    hashers = [
        n
        for n in top
        if inspect.isclass(getattr(skhash, n)) and issubclass(getattr(skhash, n), BaseHasher)
    ]
    other_classes = [n for n in top if inspect.isclass(getattr(skhash, n)) and n not in hashers]
    functions = [n for n in top if n not in hashers and n not in other_classes]
    sections = [
        ("Hashers", "skhash", take(skhash, hashers)),
        ("Search and other estimators", "skhash", take(skhash, other_classes)),
        ("Functions", "skhash", take(skhash, functions)),
    ]
    import importlib

    for modname, title in [
        ("skhash.metrics", "Retrieval metrics"),
        ("skhash.datasets", "Data sets"),
        ("skhash.codes", "Binary codes"),
        ("skhash.neighbors", "Hamming-space neighbours"),
        ("skhash.deep", "Deep hashers: base class and warning"),
        ("skhash.dask", "Dask"),
    ]:
        try:
            module = importlib.import_module(modname)
        except ImportError:
            continue
        sections.append((title, modname, take(module, getattr(module, "__all__", []))))
    return [s for s in sections if s[2]]


def _write_api_list():
    lines, declared = [], set()
    for title, modname, names in _api_sections():
        # ``module`` once per module makes :mod:`skhash.metrics` and the like resolve.
        directive = "currentmodule" if modname in declared else "module"
        declared.add(modname)
        lines += [title, "-" * len(title), "", f".. {directive}:: {modname}", ""]
        lines += [".. autosummary::", "   :toctree: generated/", "   :nosignatures:", ""]
        lines += [f"   {name}" for name in names] + [""]
    target = HERE / "_api_list.rst"
    target.parent.mkdir(exist_ok=True)
    text = "\n".join(lines)
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


_write_api_list()


def _skip_sklearn_members(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated metadata-routing setters (set_*_request)."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_sklearn_members)
