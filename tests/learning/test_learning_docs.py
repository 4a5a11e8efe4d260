"""The runnable example in docs/learning.md runs as written and teaches a skill."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "learning.md"


def test_docs_learning_example_teaches_evaluates_and_promotes(capsys):
    m = re.search(r"<!-- example: python -->\s*```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert m, "docs/learning.md lost its Python example"
    exec(compile(m.group(1), str(DOC), "exec"), {})
    successes, promoted, manifest = capsys.readouterr().out.split()
    assert int(successes) >= 3 and promoted == "True" and manifest == "leo_cone.yaml"
