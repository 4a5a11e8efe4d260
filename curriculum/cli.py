"""`dojo lessons check [PATHS]`: validate lesson files; each error names file, line, field and fix."""

from __future__ import annotations

import argparse
import sys

from curriculum.loader import DEFAULT_LESSONS_DIR, lesson_files, load_lessons


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dojo lessons", description="lesson tools")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="validate lesson YAML files (default: every lesson under lessons/)")
    check.add_argument("paths", nargs="*", help=f"files or folders (default: {DEFAULT_LESSONS_DIR})")
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
