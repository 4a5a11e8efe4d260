"""`dojo lessons check`: the shipped lessons are valid, and every broken fixture gets an error that names
the file, the line, the field and a fix. Each fixture marks its broken line with `# ERROR: <field>`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from curriculum.cli import main
from curriculum.loader import LessonFileError, load_lessons

HERE = Path(__file__).resolve().parent
BROKEN = sorted((HERE / "fixtures" / "broken").glob("*.yaml"))
REPO = HERE.parent.parent
MARK = re.compile(r"# ERROR: (\S+)")
LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<field>\S+): (?P<message>.+) — fix: (?P<fix>.+)$")


def _marks(path: Path) -> list[tuple[int, str]]:
    return [(n, m.group(1)) for n, text in enumerate(path.read_text().splitlines(), 1) if (m := MARK.search(text))]


def test_every_shipped_lesson_passes_dojo_lessons_check(capsys):
    assert main(["check"]) == 0
    assert "lesson(s) OK" in capsys.readouterr().out


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_lesson_error_names_file_line_field_and_fix(path, capsys):
    assert main(["check", str(path)]) == 1
    lines = [l for l in capsys.readouterr().err.splitlines() if " — fix: " in l]
    parsed = [LINE.match(l) for l in lines]
    assert lines and all(parsed), lines
    for m in parsed:
        assert m["file"] == str(path) and len(m["fix"]) > 8
    marks = _marks(path)
    assert marks, f"fixture {path.name} marks no broken line"
    for line, field in marks:
        hits = [m for m in parsed if int(m["line"]) == line and m["field"] == field]
        assert hits, f"no error on line {line} for {field}: {lines}"


def test_typo_in_a_field_name_suggests_the_right_one(capsys):
    main(["check", str(HERE / "fixtures" / "broken" / "typo_field.yaml")])
    assert "did you mean `checks`?" in capsys.readouterr().err


def test_duplicate_lesson_ids_name_the_first_file(tmp_path):
    good = (HERE / "fixtures" / "garage.yaml").read_text()
    (tmp_path / "a.yaml").write_text(good)
    (tmp_path / "b.yaml").write_text(good.replace("order: 1", "order: 2"))
    with pytest.raises(LessonFileError) as err:
        load_lessons([tmp_path])
    [e] = err.value.errors
    assert e.file.endswith("b.yaml") and e.field == "id" and e.line == 2 and "a.yaml" in e.message


def test_dojo_command_line_reports_errors_and_exit_code():
    bad = HERE / "fixtures" / "broken" / "unknown_zone.yaml"
    proc = subprocess.run([sys.executable, "-m", "dojo", "lessons", "check", str(bad)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert f"{bad}:19: checks[0].zone: check 'reach_zone' names zone 'garaj'" in proc.stderr


def test_a_lesson_can_take_its_arena_from_a_shared_arena_file(tmp_path):
    good = (HERE / "fixtures" / "garage.yaml").read_text()
    start, end = good.index("arena:\n"), good.index("allowed_blocks:")
    arena_text = "\n".join(line[2:] for line in good[start:end].splitlines()[1:])
    (tmp_path / "arenas").mkdir()
    (tmp_path / "arenas" / "garage-arena.yaml").write_text(arena_text)
    (tmp_path / "lesson.yaml").write_text(good[:start] + "arena: {file: arenas/garage-arena.yaml}\n" + good[end:])
    lessons, errors = load_lessons([tmp_path], strict=False)
    assert errors == [] and list(lessons.lessons) == ["fixture-garage"]  # the arena file is not read as a lesson
    assert lessons.get("fixture-garage").arena.zone("garage").x0 == 190


def test_simulate_flag_reports_a_wrong_solution_that_passes_its_check(tmp_path, capsys):
    text = (HERE / "fixtures" / "garage.yaml").read_text().replace("  fails: reach_zone", "  fails: touch_no_cone")
    (tmp_path / "lesson.yaml").write_text(text)
    assert main(["check", str(tmp_path / "lesson.yaml")]) == 0  # fine on paper ...
    assert main(["check", "--simulate", str(tmp_path / "lesson.yaml")]) == 1  # ... but not in the simulator
    err = capsys.readouterr().err
    assert ":33: wrong_solution.fails: the known-wrong solution passes check 'touch_no_cone'" in err
