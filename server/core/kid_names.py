"""Kids' first names: every real first name is welcome; two names that look the same are one name.

Promises (tests/server/kids/test_kid_names.py, through the real /api/join):

- *real names pass*: a name is letters of any script with their combining marks (Devanagari and
  Tamil vowel signs, Thai marks, Arabic harakat), the joiners some scripts need (ZWJ, ZWNJ), and
  hyphens, apostrophes and single spaces between parts (Anna-Lena, O'Brien, Mary Ann). It is stored
  in NFC, so "Zoë" typed as Z-o-e-U+0308 (NFD) and as Z-o-ë (NFC) is one name.
- *nothing else passes*: digits, emoji, punctuation, control and invisible format characters (bidi
  overrides), a mark or separator first, two separators in a row, piles of marks (more than
  ``MAX_MARKS_IN_A_ROW``), more than ``MAX_LETTERS`` letters. The refusal says what to type.
- *look-alikes are one kid*: :func:`name_key` is what makes two names "the same" (the database's
  unique key per class): NFKC (fullwidth "Ａｌｉｃｅ" is "Alice"), case folded, the joiners dropped,
  and every letter that is drawn like a Latin letter (Cyrillic "А", Greek "Ο", the dotless "ı") mapped to that Latin letter — a confusable skeleton in the spirit
  of Unicode TS #39. So "Аlice" (Cyrillic А) is Alice: /api/join answers 409 ``same_name`` ("there is
  already an Alice — if that is you, join again; if not, add a letter of your last name"), and never
  makes a second kid who looks the same on the teacher's roster.

What the table does not cover (documented in docs/threat-model.md): look-alikes between two non-Latin
scripts (e.g. Cyrillic and Greek letters that look alike but map to no Latin letter), multi-letter
look-alikes such as "rn" and "m", and a capital "I" against a small "l" (one stroke in many fonts, but
folding case makes "Ila" and "Lia" one name if they were merged: the roster font draws them apart). The teacher's roster shows each kid once, with their car.
"""

from __future__ import annotations

import unicodedata

from server.core.types import ClassroomError

MAX_LETTERS = 20  # first name only; the longest common given names in any script fit
MAX_CHARS = 48  # code points after NFC: 20 letters with their vowel signs and marks
MAX_MARKS_IN_A_ROW = 4  # real scripts stack at most ~3 marks on a letter; more is "Zalgo" text
JOINERS = {"\u200c", "\u200d"}  # ZWNJ, ZWJ: Indic and Persian spelling needs them; invisible otherwise
SEPARATORS = {"-": "-", "\u2010": "-", "\u2011": "-", "'": "'", "\u2019": "'", "\u02bc": "'", " ": " "}

# Letters drawn like a Latin letter -> that letter (both cases; the key is case folded afterwards).
# From Unicode's confusables for Cyrillic, Greek and Latin; single letters only.
_LOOKS_LATIN = str.maketrans({
    # Cyrillic
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "У": "Y", "Ү": "Y", "І": "I", "Ӏ": "I", "Ј": "J", "Ѕ": "S", "Ԛ": "Q", "Ԝ": "W", "Ԁ": "d",
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "ү": "y", "і": "i", "ј": "j",
    "ѕ": "s", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ѵ": "v", "ѡ": "w", "ɡ": "g",
    "Ё": "Ë", "ё": "ë", "Ї": "Ï", "ї": "ï",
    # Greek
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "ο": "o", "ν": "v", "ι": "i", "ρ": "p", "κ": "k", "υ": "u",
    "α": "a", "τ": "t", "χ": "x",
    # Latin letters outside ASCII drawn like ASCII ones
    "ı": "i", "ɩ": "i",
})


def _letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L")


def _mark(ch: str) -> bool:
    return unicodedata.category(ch).startswith("M")


def clean_name(raw: object) -> str:
    """The name as the class will see it (NFC, spaces tidied), or a ClassroomError saying what is wrong."""
    text = raw if isinstance(raw, str) else ""
    name = " ".join(unicodedata.normalize("NFC", text).split(" "))  # NFC first: Z o U+0308 -> Zoë
    name = " ".join(part for part in name.strip().split(" ") if part)  # one space between parts
    if not name:
        raise _refused("a name needs at least one letter (got an empty name)", text)
    if len(name) > MAX_CHARS:
        raise _refused(f"a name is at most {MAX_LETTERS} letters (got {len(name)} characters)", text)
    letters = marks = 0
    previous = ""
    for i, ch in enumerate(name):
        if _letter(ch):
            letters, marks = letters + 1, 0
        elif _mark(ch) or ch in JOINERS:
            if i == 0 or previous in SEPARATORS:
                raise _refused(f"a name cannot start a part with the mark U+{ord(ch):04X}", text)
            marks += 1
            if marks > MAX_MARKS_IN_A_ROW:
                raise _refused(f"a name has more than {MAX_MARKS_IN_A_ROW} marks on one letter", text)
        elif ch in SEPARATORS:
            if i == 0 or previous in SEPARATORS:
                raise _refused(f"a name cannot have {ch!r} at the start or twice in a row (got {name!r})", text)
        else:
            what = "a digit" if unicodedata.category(ch) == "Nd" else f"{unicodedata.name(ch, 'an unnamed character').lower()}"
            raise _refused(f"a name has only letters, '-', ' and spaces (got {what}, U+{ord(ch):04X})", text)
        previous = ch
    if name[-1] in SEPARATORS:
        raise _refused(f"a name cannot end with {name[-1]!r}", text)
    if letters > MAX_LETTERS:
        raise _refused(f"a name is at most {MAX_LETTERS} letters (got {letters})", text)
    return name


def name_key(name: str) -> str:
    """Two names with the same key look the same: they are one kid in a class (see the module doc)."""
    text = unicodedata.normalize("NFKC", name)
    text = "".join(SEPARATORS.get(ch, ch) for ch in text if ch not in JOINERS)
    text = text.translate(_LOOKS_LATIN).casefold()
    return unicodedata.normalize("NFKC", text).translate(_LOOKS_LATIN)  # folding can make new look-alikes


def _refused(message: str, raw: str) -> ClassroomError:
    return ClassroomError("kid_name", message, raw[:60], "type just your first name, like Mia, Anna-Lena or O'Brien")
