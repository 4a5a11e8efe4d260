"""The examples in docs/simulator.md run as written (they assert what they promise)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_simulator_doc_has_its_examples():
    assert len(EXAMPLES) == 2


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_simulator_doc_example_runs(index):
    exec(compile(EXAMPLES[index], f"{DOC}#example{index + 1}", "exec"), {})
