"""Pairing a car with the console's code (server/cars/pairing.py, pairing_api.py), and the car's side of it
(robot_runtime/pairing.py) against the real server: a code works once and not for long, guesses are
slow, names are never taken over, the token is kept hashed, and a paired car connects and is listed."""

from __future__ import annotations

import asyncio
import re
import time

import cv2
import numpy as np
import pytest

from core_harness import classroom_server, start_sim_car, wait_for
from robot_runtime.pairing import PairingError, pair
from server.cars.pairing import (
    CODE_ALPHABET, CODE_TTL_S, MAX_LIVE_CODES, PAIR_TRIES_PER_MIN, PAIR_TRIES_TOTAL_PER_MIN, TOKENS_NS, PairingBook,
)
from server.cars.pairing_api import PAIRING
from server.core.storage import SqliteStorage
from server.core.types import ClassroomError

pytestmark = pytest.mark.timeout(60)


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def book(known: set[str] = frozenset()) -> tuple[PairingBook, Clock, SqliteStorage]:
    clock, storage = Clock(), SqliteStorage(":memory:")
    return PairingBook(storage, lambda: set(known), clock=clock), clock, storage


def rule_of(fn) -> str:
    with pytest.raises(ClassroomError) as err:
        fn()
    assert err.value.fix, "every refusal says what to do"
    return err.value.rule


# --- the rules, on the book with a clock in hand ------------------------------------------------------


def test_a_code_pairs_once_and_only_until_it_expires():
    b, clock, _ = book()
    code = b.new_code().code
    assert len(code) == 6 and set(code) <= set(CODE_ALPHABET) and not set(code) & set("01OI")
    name, token = b.pair(f"{code[:3].lower()}-{code[3:]}", "mia-car", "real", "gpio", 2, "10.0.0.5")  # typed by a person
    assert name == "mia-car" and len(token) >= 40 and b.token_ok("mia-car", token)
    assert rule_of(lambda: b.pair(code, "other", "real", "gpio", 2, "10.0.0.5")) == "pair_code_used"
    late = b.new_code().code
    clock.t += CODE_TTL_S + 1
    assert rule_of(lambda: b.pair(late, None, "real", "gpio", 2, "10.0.0.5")) == "pair_code_expired"
    assert rule_of(lambda: b.pair("ZZZZZZ", None, "real", "gpio", 2, "10.0.0.5")) == "pair_code_unknown"
    assert b.status(code).state == "paired" and b.status(code).car_id == "mia-car"
    assert b.status(late).state == "expired"


def test_guessing_meets_the_rate_limit_per_address_and_in_total_and_it_refills():
    b, clock, _ = book()
    code = b.new_code().code
    for _ in range(PAIR_TRIES_PER_MIN):
        assert rule_of(lambda: b.pair("AAAAAA", None, "real", "gpio", 2, "10.0.0.9")) == "pair_code_unknown"
    assert rule_of(lambda: b.pair(code, None, "real", "gpio", 2, "10.0.0.9")) == "pair_rate"  # even the right one
    tries = PAIR_TRIES_PER_MIN
    for n in range(PAIR_TRIES_TOTAL_PER_MIN - tries):  # other addresses use up the rest of everybody's minute
        assert rule_of(lambda: b.pair("AAAAAA", None, "real", "gpio", 2, f"10.0.1.{n}")) == "pair_code_unknown"
    assert rule_of(lambda: b.pair(code, None, "real", "gpio", 2, "10.0.2.1")) == "pair_rate"
    clock.t += 60.0  # a minute later the person with the right code gets in
    assert b.pair(code, None, "real", "gpio", 2, "10.0.0.9")[0] == "car-1"


def test_a_taken_name_is_never_taken_over_unless_the_code_was_made_for_that_car():
    b, _, storage = book(known={"car-1", "sim-2"})
    first = b.pair(b.new_code().code, "car-1", "real", "gpio", 2, "a")  # car-1 is a configured car: not this one
    assert first[0] == "car-2"
    assert b.pair(b.new_code().code, "car-2", "real", "gpio", 2, "a")[0] == "car-3"  # just paired: taken too
    assert b.pair(b.new_code().code, "Not A Name!", "real", "gpio", 2, "a")[0] == "car-4"
    again = b.new_code(car_id="car-2")  # the teacher re-pairs car-2 (its card was reflashed)
    name, token = b.pair(again.code, "whatever", "real", "pca9685", 2, "a")
    assert name == "car-2" and b.token_ok("car-2", token) and not b.token_ok("car-2", first[1])
    stored = storage.kv_get(TOKENS_NS, "car-2")
    assert token not in str(stored) and stored["hardware"] == "pca9685"  # kept as a hash only


def test_live_codes_are_capped_oldest_first_and_a_car_of_another_protocol_is_told_to_update():
    b, clock, _ = book()
    codes = []
    for _ in range(MAX_LIVE_CODES + 3):
        codes.append(b.new_code().code)
        clock.t += 1.0
    assert [b.status(c) is None for c in codes[:3]] == [True] * 3 and b.status(codes[-1]).state == "waiting"
    assert rule_of(lambda: b.pair(codes[-1], None, "real", "gpio", 99, "a")) == "protocol_version"
    assert b.status(codes[-1]).state == "waiting"  # a refused car does not spend the code


# --- over HTTP, with a real server and the car's own client -------------------------------------------


def qr_text(svg: str) -> str:
    """Decode the QR code as a phone would: draw the SVG's dark path (parsed here, not by segno: rows of
    `h` runs on a white page) and let OpenCV's detector read it."""
    size = int(re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).group(1))
    img = np.full((size, size), 255, np.uint8)
    x = y = 0.0
    for cmd, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?:\s(-?[\d.]+))?", re.search(r'<path stroke="#000" d="([^"]+)"', svg).group(1)):
        if cmd == "M":
            x, y = float(a), float(b)
        elif cmd == "m":
            x, y = x + float(a), y + float(b)
        else:  # a dark run of `a` modules on the row whose centre line is y
            img[int(y), int(x):int(x + float(a))] = 0
            x += float(a)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(cv2.resize(img, None, fx=8, fy=8, interpolation=cv2.INTER_NEAREST))
    return text


async def test_add_a_car_code_then_dojo_car_pair_then_the_car_connects_and_is_listed(tmp_path):
    async with classroom_server(tmp_path) as srv:
        teacher = await srv.teacher()
        try:
            await pair_and_connect(srv, teacher)
        finally:
            await teacher.http.close()


async def pair_and_connect(srv, teacher) -> None:
    """Add a car: the code, the car's `pair`, the car connecting with its new token."""
    status, made = await teacher.post("/api/teacher/pairing-codes")
    assert status == 201 and set(made) == {"code", "expires_at", "qr_svg", "command"}
    assert made["command"] == f"dojo car pair {srv.url} {made['code']}"
    assert abs(made["expires_at"] - (time.time() + CODE_TTL_S)) < 5
    assert qr_text(made["qr_svg"]) == made["command"]

    paired = await asyncio.to_thread(pair, srv.url, made["code"], car_id="garage", hardware="sim")
    assert (paired.car_id, paired.server_url) == ("garage", srv.url)
    _, listed = await teacher.get("/api/teacher/cars")
    garage = next(c for c in listed["cars"] if c["car_id"] == "garage")
    assert garage["connected"] is False  # listed at once, not connected yet
    _, st = await teacher.get(f"/api/teacher/pairing-codes/{made['code']}")
    assert (st["state"], st["car_id"], st["connected"]) == ("paired", "garage", False)

    car = await start_sim_car(srv.url, "garage", srv.classroom.default_arena, token=paired.token)
    try:
        await wait_for(lambda: srv.classroom.dispatcher.is_connected("garage"), "the paired car to connect")
        _, listed = await teacher.get("/api/teacher/cars")
        assert next(c for c in listed["cars"] if c["car_id"] == "garage")["connected"] is True
        _, st = await teacher.get(f"/api/teacher/pairing-codes/{made['code'].lower()}")
        assert st["connected"] is True
    finally:
        await car.stop()
    with pytest.raises(PairingError, match="already used.*Add a car"):
        await asyncio.to_thread(pair, srv.url, made["code"], car_id="garage2", hardware="sim")
    assert paired.token not in str(srv.handle.app[PAIRING].storage.kv_items(TOKENS_NS))  # a hash only


async def test_only_the_teacher_makes_codes_and_wrong_codes_and_bodies_are_refused_with_the_fix(tmp_path):
    async with classroom_server(tmp_path) as srv:
        async with srv.http.post(f"{srv.url}/api/teacher/pairing-codes") as resp:
            assert resp.status == 401
        teacher = await srv.teacher()
        assert (await teacher.post("/api/teacher/pairing-codes", csrf=False))[0] == 403
        assert (await teacher.post("/api/teacher/pairing-codes", {"car_id": "Bad Name"}))[0] == 400
        await teacher.http.close()
        async with srv.http.get(f"{srv.url}/api/teacher/pairing-codes/ABCDEF") as resp:
            assert resp.status == 401
        body = {"code": "QQQQQQ", "car_id": "c", "kind": "real", "hardware": "gpio", "protocol": 2}
        async with srv.http.post(f"{srv.url}/api/cars/pair", json=body) as resp:
            err = (await resp.json())["error"]
            assert resp.status == 404 and err["rule"] == "pair_code_unknown" and "Add a car" in err["fix"]
        async with srv.http.post(f"{srv.url}/api/cars/pair", json={**body, "token": "x"}) as resp:
            assert resp.status == 400 and "token" in (await resp.json())["error"]["message"]
        for _ in range(PAIR_TRIES_PER_MIN):
            async with srv.http.post(f"{srv.url}/api/cars/pair", json=body) as resp:
                pass
        async with srv.http.post(f"{srv.url}/api/cars/pair", json=body) as resp:
            assert resp.status == 429 and (await resp.json())["error"]["rule"] == "pair_rate"
