"""Kid-safe text: what a kid types into "Tell the car" and what a model writes back, checked the same way.

Two rules, one kid sentence each (nothing here blames the kid):

- ``personal_data`` — an e-mail, a phone number, a web address, a street address, or "my name is / I live /
  my password": the sentence is not sent to a model and is stored with that part removed;
- ``rude`` — the words the coach never uses (curriculum.coach.UNKIND) and the swear words kids try.

Plain regular expressions (deterministic, no model), so a classroom without Ollama filters the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from curriculum.coach import UNKIND
from curriculum.errors import Problem

MAX_SENTENCE = 200  # characters: "drive around the cone, then park in the garage and do a donut" is 61

# Personal data a kid should not type into a classroom tool (and a model must never write back).
PERSONAL = re.compile(
    r"[\w.+-]+@[\w-]+\.[\w.]+"  # e-mail
    r"|\+?\d[\d\s./-]{6,}\d"  # digits with separators: a phone number if phone_number() agrees
    r"|\b(?:https?://|www\.)\S+|\b[\w-]+\.(?:com|org|net|de|uk|io|fr|es|it|nl)\b"  # a web address
    r"|\b\d{1,5}\s+\w+\s+(?:street|st|road|rd|avenue|ave|lane|strasse|straße)\b"  # a street address
    # "my name is ...", "I live in ...": the rest of that part of the sentence goes with it
    r"|\b(?:my\s+(?:full\s+|last\s+|sur)?name\s+is|i\s+live\s+(?:at|in|on)|i\s+am\s+called|"
    r"my\s+(?:address|phone(?:\s+number)?|password|birthday|school)(?:\s+is)?)\b[^,.;!?]*|\bpassword\b",
    re.I)
PHONE_DIGITS = 8  # a phone number has 8+ digits with a run of 4+ ("forward 10 20 30 40" has 8 digits in pairs)
# Swear words and insults kids try, beyond the coach's unkind words (whole words: "class" and "assemble" pass).
RUDE = re.compile(
    r"\b(?:f+u+c+k|fck|sh[i1]t|crap|damn|bitch|bastard|asshole|dick|piss|wank|twat|cunt|slut|whore|retard)\w*"
    r"|\b(?:ass|asses|arse|arses)\b|\bkill\s+(?:you|him|her|them)\b", re.I)


@dataclass(frozen=True)
class Unsafe:
    """Why a text is not kid-safe: the rule, what matched (for the teacher) and the text with it removed."""

    rule: str
    found: str
    redacted: str


class UnsafeText(Problem):
    """A sentence that is not sent on: the kid reads one friendly sentence per rule."""


KID_TEXT = {
    "personal_data": "Please don't type names, addresses or phone numbers here — just tell the car how to drive.",
    "rude": "Let's keep it friendly — tell the car what to do, like “forward 30 then turn left”.",
    "too_long": f"That's a lot of words! Tell the car in one short sentence (up to {MAX_SENTENCE} letters).",
}


def _personal(match: re.Match[str]) -> bool:
    found = match.group(0)
    if not found[0].isdigit() and found[0] != "+":
        return True
    digits = re.sub(r"\D", "", found)
    return len(digits) >= PHONE_DIGITS and max(len(run) for run in re.findall(r"\d+", found)) >= 4


def _redact(text: str) -> str:
    return PERSONAL.sub(lambda m: "[removed]" if _personal(m) else m.group(0), text)


def check_text(text: str) -> Unsafe | None:
    """The first rule the text breaks (personal data first: it is also removed from what is stored)."""
    for m in PERSONAL.finditer(text):
        if _personal(m):
            return Unsafe("personal_data", m.group(0), _redact(text))
    for pattern in (RUDE, UNKIND):
        if m := pattern.search(text):
            return Unsafe("rude", m.group(0), text)
    return None


def check_sentence(sentence: str) -> UnsafeText | None:
    """A kid's sentence before anything reads it: too long, personal data or rude -> the problem to show."""
    if len(sentence) > MAX_SENTENCE:
        return UnsafeText("too_long", f"{len(sentence)} characters (at most {MAX_SENTENCE})", value=len(sentence),
                          kid_text=KID_TEXT["too_long"])
    unsafe = check_text(sentence)
    if unsafe is None:
        return None
    return UnsafeText(unsafe.rule, f"the sentence has {unsafe.rule.replace('_', ' ')}", value=unsafe.redacted,
                      kid_text=KID_TEXT[unsafe.rule])


def stored_sentence(sentence: str) -> str:
    """What the teacher's log keeps: the sentence with personal data removed, cut to MAX_SENTENCE."""
    return _redact(sentence)[:MAX_SENTENCE]
