"""Bad lesson files always get errors with a file, a line and a fix — never a crash (property-based)."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curriculum.loader import LessonFileError, load_lessons

GOOD = yaml.safe_load((Path(__file__).resolve().parent / "fixtures" / "garage.yaml").read_text())

junk = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                 st.text(max_size=30), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5),
                                                                                             st.integers(), max_size=2))


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


PATHS = [p for p in _paths(GOOD) if p]


def _set(doc, path, value):
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(PATHS), junk), min_size=1, max_size=3))
def test_mangled_lesson_gets_clear_errors_or_loads(tmp_path, edits):
    doc = copy.deepcopy(GOOD)
    for path, value in edits:
        try:
            _set(doc, path, value)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier edit replaced the parent
    f = tmp_path / "mangled.yaml"
    f.write_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        lessons, errors = load_lessons([f], strict=False)
    except LessonFileError:  # pragma: no cover - strict=False never raises
        raise AssertionError("strict=False must collect errors, not raise")
    for e in errors:
        assert e.file == str(f) and e.line >= 1 and e.fix and e.message
    assert errors or len(lessons.lessons) == 1


json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12)),
                           lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(st.sampled_from(
                                                       ["blocks", "type", "inputs", "fields", "next", "block",
                                                        "shadow", "targets", "opcode", "NUM", "DO", "TIMES", "x"]),
                                                       inner, max_size=4)), max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(st.one_of(json_values, st.fixed_dictionaries({"blocks": json_values}), st.fixed_dictionaries({"targets": json_values}),
                 st.text(max_size=80)))
def test_any_program_is_read_or_refused_with_a_program_error(program):
    from curriculum.program import ProgramError, analyse

    try:
        info = analyse(program)
    except ProgramError as e:
        assert "—" in str(e)  # names the fix
    else:
        assert info.block_count >= 0 and isinstance(info.text, str)
