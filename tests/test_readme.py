"""The README's quickstart runs as written and prints a mAP far above chance."""

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _quickstart_code():
    text = README.read_text()
    section = text.split("## Quickstart", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert match, "the README's Quickstart section has no ```python block"
    return match.group(1)


def test_readme_quickstart_runs_as_written():
    """Executing the Quickstart block prints mAP@all; on digits it is far above chance."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_quickstart_code(), str(README), "exec"), {"__name__": "__readme__"})
    found = re.search(r"mAP@all:\s*([0-9.]+)", out.getvalue())
    assert found, out.getvalue()
    # One database image in ten shares the query's digit: a random ranking scores ~0.1.
    assert float(found.group(1)) > 0.3
