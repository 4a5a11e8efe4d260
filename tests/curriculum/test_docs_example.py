"""The runnable example in docs/lessons.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "lessons.md"


def _example(marker: str, lang: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    m = re.search(rf"<!-- example: {re.escape(marker)} -->\s*```{lang}\n(.*?)```", text, re.S)
    assert m, f"docs/lessons.md lost its {marker} example"
    return m.group(1)


def test_docs_lesson_example_checks_runs_and_grades(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-first-lesson.yaml").write_text(_example("my-first-lesson.yaml", "yaml"), encoding="utf-8")
    exec(compile(_example("python", "python"), str(DOC), "exec"), {})
    out = capsys.readouterr().out
    assert out.startswith("True 3") and "from the red box" in out
