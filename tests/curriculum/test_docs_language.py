"""The runnable example in docs/language.md prints what the page says it prints."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "language.md"


def test_the_language_docs_example_runs_as_written(capsys):
    text = DOC.read_text(encoding="utf-8")
    code = re.search(r"<!-- example: python -->\s*```python\n(.*?)```", text, re.S)
    output = re.search(r"<!-- example output -->\s*```\n(.*?)```", text, re.S)
    assert code and output, "docs/language.md lost its example"
    exec(compile(code.group(1), str(DOC), "exec"), {})
    assert capsys.readouterr().out == output.group(1)
