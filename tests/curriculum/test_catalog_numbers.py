"""A number argument is a number (or Scratch's number as text), never true/false: `move forward (true) cm`
was a 1 cm drive (float(True) == 1). Found by `make fuzz` (stress/fuzz.py)."""

from __future__ import annotations

import pytest

from curriculum.catalog import translate
from curriculum.errors import BlockError


@pytest.mark.parametrize("value", [True, False])
@pytest.mark.parametrize("block_id, arg, others", [("move_forward", "distance", {}),
                                                   ("turn", "degrees", {"direction": "left"}),
                                                   ("drive_for", "seconds", {"speed": 30})])
def test_a_boolean_is_not_a_number(block_id, arg, others, value):
    with pytest.raises(BlockError) as err:
        translate(block_id, {arg: value, **others}, 30)
    assert err.value.rule == f"{arg}_number" and "must be a number" in err.value.message


@pytest.mark.parametrize("value", [20, 20.0, "20", " 20 "])
def test_numbers_and_scratch_number_text_still_count(value):
    assert translate("move_forward", {"distance": value}, 30).args["distance"] == 20.0
