"""`dojo skills`: learned skills from the command line.

    dojo skills list                                   tricks, and every learned skill with its versions
    dojo skills show mia_park                          one skill: versions, hashes, training, evaluations
    dojo skills record park [--episodes 10]            the scripted expert drives; prints the dataset id
    dojo skills train mia_park --trick park [--dataset park-001 | --demos 10] [--steps 3000] [--seconds 60]
    dojo skills eval mia_park [--version v002] [--episodes 50]
    dojo skills promote mia_park [--version v002]      only if it beats the current version safely
    dojo skills rollback mia_park                      last-good becomes current again

Options for all: --data-dir (default $DOJO_DATA_DIR or var/). Exit codes: 0 done, 1 refused (a
promotion that was not better, a closed training gate), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys

from learning.evaluate import EvalConfig
from learning.gates import MachineGates, TrainingRefused
from learning.service import SkillLab, default_data_dir
from learning.store import SkillStoreError
from learning.train import Budget, TrainProgress
from learning.tricks import TRICKS

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
BAR_WIDTH = 30


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dojo skills", description="Teach, evaluate, promote and roll back learned skills.")
    p.add_argument("--data-dir", default=None, help="where datasets and skills live (default $DOJO_DATA_DIR or var/)")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="tricks and learned skills")
    show = sub.add_parser("show", help="one skill in detail (JSON)")
    show.add_argument("name")
    rec = sub.add_parser("record", help="the scripted expert drives a trick: a new dataset")
    rec.add_argument("trick", choices=sorted(TRICKS))
    rec.add_argument("--episodes", type=int, default=10)
    train = sub.add_parser("train", help="train a candidate version from a dataset")
    train.add_argument("name", help="the new block's name, e.g. mia_park")
    train.add_argument("--trick", required=True, choices=sorted(TRICKS))
    train.add_argument("--dataset", help="dataset id (default: record --demos new expert demonstrations)")
    train.add_argument("--demos", type=int, default=10, help="expert demonstrations to record without --dataset")
    train.add_argument("--taught-by", default="", help="who taught it (shown to the teacher)")
    train.add_argument("--steps", type=int, default=Budget().max_steps)
    train.add_argument("--seconds", type=float, default=Budget().max_seconds)
    train.add_argument("--on-car", action="store_true", help="also require an idle machine (load gate), as on a docked car")
    for name, helptext in (("eval", "evaluate a version in the simulator"), ("promote", "make a version current if it is better")):
        sp = sub.add_parser(name, help=helptext)
        sp.add_argument("name")
        sp.add_argument("--version", help="default: the newest version")
        sp.add_argument("--episodes", type=int, default=EvalConfig().episodes)
    rb = sub.add_parser("rollback", help="make the last-good version current again")
    rb.add_argument("name")
    return p


def _bar(p: TrainProgress, _shown: list[int] = [-1]) -> None:  # noqa: B006 - remembers the last tenth shown
    done = int(p.fraction * BAR_WIDTH)
    val = "-" if p.val_loss is None else f"{p.val_loss:.5f}"
    line = f"[{'#' * done}{'.' * (BAR_WIDTH - done)}] step {p.step:5d}  loss {p.train_loss:.5f}  held-out {val}"
    if sys.stdout.isatty():
        print("\r" + line, end="", flush=True)
    elif int(p.fraction * 10) > _shown[0]:  # a log file gets one line per tenth of the budget
        _shown[0] = int(p.fraction * 10)
        print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    gates = MachineGates(max_load_per_cpu=0.9 if getattr(args, "on_car", False) else None)
    episodes = getattr(args, "episodes", None) if args.cmd in ("eval", "promote") else None
    lab = SkillLab(args.data_dir or default_data_dir(), gates=gates,
                   eval_config=EvalConfig(episodes=episodes) if episodes else EvalConfig())
    try:
        return _run(lab, args)
    except TrainingRefused as exc:
        print(f"dojo skills: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except (SkillStoreError, ValueError, KeyError) as exc:
        print(f"dojo skills: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return EXIT_USAGE


def _run(lab: SkillLab, args: argparse.Namespace) -> int:
    if args.cmd == "list":
        print("tricks:")
        for t in lab.tricks():
            print(f"  {t['name']:<12} {t['title']} — {t['task']}")
        skills = lab.skills()
        print("learned skills:" if skills else "learned skills: none yet (dojo skills train NAME --trick TRICK)")
        for rec in skills:
            cur = rec.version(rec.current).eval if rec.current else None
            score = f", success {cur['success_rate']:.0%}" if cur else ""
            print(f"  {rec.name:<16} {rec.trick:<12} by {rec.taught_by or '-'}: {len(rec.versions)} version(s), "
                  f"current {rec.current or '-'}, last-good {rec.last_good or '-'}, factory {rec.factory or '-'}{score}")
        return EXIT_OK
    if args.cmd == "show":
        print(json.dumps(lab.show(args.name), indent=1))
        return EXIT_OK
    if args.cmd == "record":
        ds = lab.record_demos(args.trick, args.episodes)
        print(f"recorded {lab.dataset(ds).info['total_episodes']} demonstrations: dataset {ds} ({lab.datasets / ds})")
        return EXIT_OK
    if args.cmd == "train":
        ds = args.dataset or lab.record_demos(args.trick, args.demos)
        version = lab.train(args.name, args.trick, ds, budget=Budget(max_steps=args.steps, max_seconds=args.seconds),
                            taught_by=args.taught_by, progress=_bar)
        t = version.train
        print(f"\n{args.name} {version.id}: {t['steps']} steps in {t['elapsed_s']:.1f} s ({t['stopped_because']}), "
              f"held-out loss {t['best_val_loss']}, onnx vs torch {t['onnx_vs_torch_max_abs']:.1e}")
        print(f"next: dojo skills promote {args.name} --version {version.id}")
        return EXIT_OK
    if args.cmd == "eval":
        print(lab.evaluate(args.name, args.version).line())
        return EXIT_OK
    if args.cmd == "promote":
        decision = lab.promote(args.name, args.version)
        print(decision.reason)
        return EXIT_OK if decision.promote else EXIT_REFUSED
    if args.cmd == "rollback":
        rec = lab.rollback(args.name)
        print(f"{rec.name}: current is now {rec.current} (last-good {rec.last_good or '-'}, factory {rec.factory})")
        return EXIT_OK
    raise AssertionError(args.cmd)


if __name__ == "__main__":
    sys.exit(main())
