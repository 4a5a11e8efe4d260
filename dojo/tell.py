"""Tell the car from Python: your sentence becomes a program in your level's blocks, as Python text to read.

    import dojo
    print(dojo.plan("drive a square", "http://127.0.0.1:8080", class_code="DEMO", name="Mia"))
    # You told the car: “drive a square” (plan p1a2b3c4d)
    for count in range(4):
        car.forward(50)
        car.turn_left(90)

The classroom server writes it (its language model, or its simple reader) and checks it like any program of
yours; nothing runs until you put the lines into your program and run it. ``car.plan("...")`` does the same
with the car you are connected as. What cannot become blocks raises ``dojo.Refused`` with a sentence why
("I can't make that into blocks: The “donut” skill unlocks at level 4 — keep going!").
"""

from __future__ import annotations

from typing import Any

import requests

from dojo.errors import ArgumentError, Refused
from dojo.http import join, json_or_refusal, unreachable

PLAN_TIMEOUT_S = 40.0  # the server may ask its language model twice (12 s each at most), then its reader answers


def plan(sentence: str, server: str = "http://127.0.0.1:8080", class_code: str | None = None,
         name: str | None = None, *, token: str | None = None) -> str:
    """Turn a sentence into a program in your level's blocks, as Python text (it never runs anything)."""
    server = server.rstrip("/")
    if token is None:
        token = join(server, class_code, name, "dojo.plan",
                      'dojo.plan("forward 30", URL, class_code="DEMO", name="Mia")')["token"]
    return plan_with_token(server, token, sentence)


def plan_with_token(server: str, token: str, sentence: str) -> str:
    if not isinstance(sentence, str) or not sentence.strip():
        raise ArgumentError("plan_sentence", sentence, "tell the car something in words (got an empty sentence)",
                            'write dojo.plan("forward 30 then turn left")')
    try:
        resp = requests.post(server + "/api/plan", json={"sentence": sentence, "front_end": "python"},
                             headers={"Authorization": f"Bearer {token}"}, timeout=PLAN_TIMEOUT_S)
    except requests.RequestException as exc:
        raise unreachable(server, exc) from None
    answer: dict[str, Any] = json_or_refusal(resp)
    if answer.get("outcome") != "planned":
        notes = " ".join(answer.get("notes") or [])
        raise Refused(answer.get("kid_text") or "That could not become blocks.",
                      detail=f"{answer.get('rule', '')}: {answer.get('teacher_note', '')} {notes}".strip(),
                      status="refused", reply=answer)
    return answer["python"]
