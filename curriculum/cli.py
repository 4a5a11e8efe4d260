"""`dojo lessons check [PATHS]`: validate lesson files; each error names file, line, field and fix."""

from __future__ import annotations

import argparse
import sys

from curriculum.loader import DEFAULT_LESSONS_DIR, LessonError, LessonSet, lesson_files, line_of, load_lessons


def simulate_solutions(lessons: LessonSet) -> list[LessonError]:
    """The reference solution must pass and the known-wrong one must fail its check, in the simulator."""
    from curriculum.judge import judge
    from curriculum.simrun import run_program

    errors = []
    for item in lessons.lessons.values():
        lesson, f = item.lesson, str(item.path)
        good = judge(lesson, run_program(lesson, lesson.solution.blockly).recording)
        if not good.passed:
            why = "; ".join(c.kid_text for c in good.failed if c.required)
            errors.append(LessonError(f, line_of(item.root, ("solution",)), "solution",
                                      f"the reference solution does not pass in the simulator ({why})",
                                      "change the program (or the arena) until it passes"))
        bad = judge(lesson, run_program(lesson, lesson.wrong_solution.blockly).recording)
        target = bad.check(lesson.wrong_solution.fails)
        if target.passed:
            errors.append(LessonError(f, line_of(item.root, ("wrong_solution", "fails")), "wrong_solution.fails",
                                      f"the known-wrong solution passes check '{target.id}' ({target.kid_text})",
                                      "make the wrong program fail that check, or name the check it fails"))
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dojo lessons", description="lesson tools")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="validate lesson YAML files (default: every lesson under lessons/)")
    check.add_argument("paths", nargs="*", help=f"files or folders (default: {DEFAULT_LESSONS_DIR})")
    check.add_argument("--simulate", action="store_true",
                       help="also run each reference and known-wrong solution in the headless simulator")
    sub.add_parser("list", help="list the lessons in course order")
    args = parser.parse_args(argv)

    if args.command == "list":
        lessons, _ = load_lessons(strict=False)
        for lesson in lessons.ordered():
            print(f"level {lesson.level}  {lesson.order:>2}  {lesson.id:<28} {lesson.title}")
        return 0

    files = lesson_files(args.paths or None)
    if not files:
        print(f"no lesson files found in {', '.join(args.paths) or DEFAULT_LESSONS_DIR}", file=sys.stderr)
        return 1
    lessons, errors = load_lessons(args.paths or None, strict=False)
    if args.simulate:
        errors += simulate_solutions(lessons)
    for e in errors:
        print(str(e), file=sys.stderr)
    if errors:
        bad = len({e.file for e in errors})
        print(f"{len(errors)} error(s) in {bad} file(s)", file=sys.stderr)
        return 1
    print(f"{len(lessons.lessons)} lesson(s) OK in {len(files)} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
