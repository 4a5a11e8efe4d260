"""The example in docs/perception.md runs as written (it asserts what it promises)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "perception.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_perception_doc_example_runs():
    assert len(EXAMPLES) == 1
    exec(compile(EXAMPLES[0], f"{DOC}#example1", "exec"), {})
