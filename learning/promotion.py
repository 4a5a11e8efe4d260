"""May a candidate version replace the current one? Decided from two evaluations on the same starts.

A candidate is promoted only if
1. it is safe: no *new* safety event — no start (seed) on which the candidate collided or made the
   supervisor step in (fence, obstacle) where the current version did not; with no current version,
   no safety event at all; and
2. it is better: a higher success rate, or the same success rate and at least TIME_GAIN faster on
   average; with no current version, a success rate of at least MIN_FIRST_SUCCESS.

Both reports must come from the same evaluation config (same seeds), so they compare start by start.
"""

from __future__ import annotations

from dataclasses import dataclass

from learning.evaluate import EvalReport

MIN_FIRST_SUCCESS = 0.5  # a first version must at least succeed more often than not to become a block
TIME_GAIN = 0.05  # same success rate: promoted only if 5 % faster (smaller differences are noise)


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str  # for the teacher: the rule and the numbers
    kid_text: str  # for the kid who taught it


def decide(candidate: EvalReport, current: EvalReport | None) -> Decision:
    if current is not None and candidate.config != current.config:
        raise ValueError(f"the two evaluations used different starts ({candidate.config} vs {current.config}); "
                         "evaluate both with the same config")
    if current is None:
        unsafe = sorted(candidate.unsafe_seeds())
        if unsafe:
            return Decision(False, f"refused: {len(unsafe)} start(s) had a collision or a safety stop (seeds "
                            f"{unsafe[:5]}); a first version must have none",
                            "Not yet — it bumped or needed a safety stop. Drive it a few more times!")
        if candidate.success_rate < MIN_FIRST_SUCCESS:
            return Decision(False, f"refused: success {candidate.success_rate:.0%} is below the "
                            f"{MIN_FIRST_SUCCESS:.0%} a first version needs",
                            "Not yet — it only got it right sometimes. Drive it a few more times!")
        return Decision(True, f"promoted: first version, success {candidate.success_rate:.0%}, no safety events",
                        "Your car learned the trick! It's a new block now.")
    new_unsafe = sorted(candidate.unsafe_seeds() - current.unsafe_seeds())
    if new_unsafe:
        return Decision(False, f"refused: new safety events on {len(new_unsafe)} start(s) (seeds {new_unsafe[:5]}) "
                        "where the current version had none",
                        "The new try bumped where the old one didn't, so I kept the old one.")
    better = candidate.success_rate > current.success_rate
    if not better and candidate.success_rate == current.success_rate and candidate.mean_time_s and current.mean_time_s:
        better = candidate.mean_time_s <= current.mean_time_s * (1.0 - TIME_GAIN)
    if not better:
        return Decision(False, f"refused: success {candidate.success_rate:.0%} vs current {current.success_rate:.0%} "
                        f"(mean time {candidate.mean_time_s} s vs {current.mean_time_s} s) is not better",
                        "The new try wasn't better than the old one, so I kept the old one.")
    return Decision(True, f"promoted: success {candidate.success_rate:.0%} vs {current.success_rate:.0%}, "
                    f"mean time {candidate.mean_time_s} s vs {current.mean_time_s} s, no new safety events",
                    "Your car got better at the trick!")
