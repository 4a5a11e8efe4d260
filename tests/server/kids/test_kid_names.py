"""Real first names join; look-alikes never become a second kid who looks the same (server/core/kid_names.py).

Through the real POST /api/join of a real server. Before the fix, every name below in REAL_NAMES was
refused (400 kid_name), and "Аlice" (Cyrillic А) and "Ａｌｉｃｅ" (fullwidth) became new kids beside Alice.
"""

from __future__ import annotations

import sqlite3
import unicodedata

import pytest

from core_harness import classroom_server
from server.core.kid_names import name_key
from server.core.storage import SqliteStorage

REAL_NAMES = [
    "अनन्या",  # Hindi: Devanagari with vowel signs and a virama
    "ஆதித்யா",  # Tamil
    "สมชาย",  # Thai
    "مُحَمَّد",  # Arabic with harakat (vocalised)
    "Anna-Lena",
    "O'Brien",
    "Mary Ann",
    "Łukasz",
    "Nguyễn",
    "Zoë",
]


async def post_join(srv, name: str, **extra) -> tuple[int, dict]:
    async with srv.http.post(f"{srv.url}/api/join", json={"class_code": "TEST", "name": name, **extra}) as resp:
        return resp.status, await resp.json()


async def test_real_first_names_of_many_scripts_join_and_come_back_as_typed(tmp_path):
    async with classroom_server(tmp_path) as srv:
        for name in REAL_NAMES:
            status, body = await post_join(srv, name)
            assert status == 200, (name, body)
            assert body["name"] == unicodedata.normalize("NFC", name)
        assert len(srv.classroom.kids_in_class("TEST")) == len(REAL_NAMES)
        status, body = await post_join(srv, "O’Brien")  # the typographic apostrophe a phone keyboard types
        assert status == 409 and body["error"]["value"] == "O'Brien"  # is the same name


async def test_nfd_zoe_is_the_nfc_zoe(tmp_path):
    nfd = "Zoe\u0308"
    assert nfd != "Zoë"
    async with classroom_server(tmp_path) as srv:
        status, first = await post_join(srv, nfd)
        assert status == 200 and first["name"] == "Zoë"  # stored in NFC
        status, again = await post_join(srv, "Zoë")
        assert status == 409 and again["error"]["rule"] == "same_name" and again["error"]["value"] == "Zoë"


@pytest.mark.parametrize("look_alike", [
    "\u0410lice",  # Cyrillic capital A
    "Ａｌｉｃｅ",  # fullwidth
    "\u0391lice",  # Greek capital Alpha
    "Al\u0456ce",  # Cyrillic small i
    "ALICE",
    "Al\u200dice",  # an invisible joiner inside
])
async def test_a_name_that_looks_like_an_existing_kid_is_that_kid_or_is_asked_about(tmp_path, look_alike):
    async with classroom_server(tmp_path) as srv:
        alice = await srv.join("Alice")
        status, asked = await post_join(srv, look_alike)
        assert status == 409 and asked["error"]["rule"] == "same_name", asked
        assert asked["error"]["value"] == "Alice" and "already a Alice" in asked["error"]["message"]
        assert "rejoin" in asked["error"]["fix"] and "first letter of your last name" in asked["error"]["fix"]
        if look_alike.casefold() != "alice":
            assert "looks just like Alice" in asked["error"]["message"]
        status, same = await post_join(srv, look_alike, rejoin=True)  # "yes, that is me"
        assert status == 200 and same["kid_id"] == alice["kid_id"] and same["name"] == "Alice"
        assert [k.name for k in srv.classroom.kids_in_class("TEST")] == ["Alice"]


async def test_the_look_alike_first_is_not_a_way_around_it(tmp_path):
    async with classroom_server(tmp_path) as srv:
        first = await srv.join("\u0410lice")  # a Cyrillic-A Alice joins first
        status, asked = await post_join(srv, "Alice")
        assert status == 409 and asked["error"]["value"] == "\u0410lice"
        assert len(srv.classroom.kids_in_class("TEST")) == 1 and first["name"] == "\u0410lice"


@pytest.mark.parametrize("bad,why", [
    ("Mia1", "digit"),
    ("Mia\U0001F600", "grinning face"),
    ("Mi\u202eA", "right-to-left override"),  # bidi override: would draw the roster backwards
    ("-Mia", "at the start"),
    ("Mia--Rose", "twice in a row"),
    ("Mia-", "end with"),
    ("\u0301Mia", "start a part with the mark"),
    ("M" + "\u0300\u0301\u0302\u0303\u0304", "marks on one letter"),
    ("A" * 21, "at most 20 letters"),
    ("Mia<b>", "less-than sign"),
])
async def test_what_is_not_a_name_is_refused_saying_what_to_type(tmp_path, bad, why):
    async with classroom_server(tmp_path) as srv:
        status, body = await post_join(srv, bad)
        assert status == 400 and body["error"]["rule"] == "kid_name", body
        assert why in body["error"]["message"] and "Anna-Lena" in body["error"]["fix"]
        assert srv.classroom.kids_in_class("TEST") == []


def test_kids_stored_by_an_older_version_get_the_look_alike_key(tmp_path):
    db = tmp_path / "classroom.sqlite3"
    SqliteStorage(db).close()
    raw = sqlite3.connect(db)  # as the old version stored them: key = the name case folded
    raw.execute("INSERT INTO classes (code, name, created_at) VALUES ('TEST', 'T', 0)")
    raw.execute("INSERT INTO kids VALUES ('k1', 'TEST', 'Ａｌｉｃｅ', 'ａｌｉｃｅ', 1, 0)")
    raw.execute("INSERT INTO kids VALUES ('k2', 'TEST', 'alice', 'alice', 1, 1)")  # the old bug: a twin
    raw.commit()
    raw.close()
    storage = SqliteStorage(db)
    try:
        keys = dict(storage.execute("SELECT kid_id, name_key FROM kids"))
        assert name_key("Ａｌｉｃｅ") == "alice" and "alice" in keys.values()  # one of the twins holds the key
        assert storage.find_kid_by_name("TEST", "Alice") is not None
        assert storage.find_kid_by_name("TEST", "\u0410lice") is not None
    finally:
        storage.close()
