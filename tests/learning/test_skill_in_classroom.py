"""A promoted learned skill in a real classroom: a real `dojo demo` (server + a simulated car process),
real sockets, the Python SDK.

- The server finds the promoted skill on disk (as `dojo skills promote` leaves it), lists it in the
  catalog at its level, sends it to the car (hash-checked; the car's own log says it installed it) and
  `car.do("mia_park")` parks the car (oracle: the garage box rectangle written here).
- Below the skill's level the gate refuses it with the level sentence, like a built-in skill.
- A second promoted version reaches the car; the teacher's rollback puts the first back on the car.
- A model file changed on the server's disk is never sent: the teacher's page says why.
"""

from __future__ import annotations

import re
import shutil

import pytest
import requests

import dojo
from demo_harness import HTTP_TIMEOUT_S, join_kid_http, set_kid_level, start_demo, teacher_login, wait_until
from learning.service import SkillLab
from learning.train import Budget

BOX = (285.0, 103.0, 355.0, 147.0)  # the garage's box (learning/tricks.py GARAGE), x0 y0 x1 y1
DEPLOY_S = 30.0  # the watcher looks every 2 s; a car installs in well under a second; a loaded box is slow
PARK_TIMEOUT_S = 60.0


def in_box(x: float, y: float) -> bool:
    return BOX[0] <= x <= BOX[2] and BOX[1] <= y <= BOX[3]


@pytest.fixture(scope="module")
def classroom(taught, tmp_path_factory):
    rec = taught.lab.store.get(taught.name)
    if rec.current is None:
        decision = taught.lab.promote(taught.name, taught.version)
        assert decision.promote, decision.reason
    demo_dir = tmp_path_factory.mktemp("classroom")
    skills = demo_dir / "server" / "learning" / "skills"
    shutil.copytree(taught.lab.store.root / taught.name, skills / taught.name)  # as `dojo skills --data-dir` leaves it
    with start_demo(demo_dir, cars=1) as demo:
        yield demo


def car_copies(demo, teacher, name="mia_park") -> dict:
    resp = teacher.get(demo.url("/api/teacher/skills"), timeout=HTTP_TIMEOUT_S)
    resp.raise_for_status()
    return next((s.get("cars", {}) for s in resp.json()["skills"] if s["name"] == name), {})


def car_log(demo) -> str:
    return (demo.data_dir / "logs" / "car-1.log").read_text(errors="replace")


def test_the_promoted_skill_reaches_the_car_and_parks_it_from_the_sdk(classroom):
    demo = classroom
    teacher = teacher_login(demo)
    wait_until(lambda: car_copies(demo, teacher).get("car-1", {}).get("ok"), DEPLOY_S, "car-1 to install mia_park")
    assert car_copies(demo, teacher)["car-1"]["version"] == "v001"
    assert re.search(r"install_skill .*'name': 'mia_park', 'version': 'v001', 'ok': True", car_log(demo))
    catalog = requests.get(demo.url("/api/catalog?level=3"), timeout=HTTP_TIMEOUT_S).json()
    row = next(s for s in catalog["skills"] if s["name"] == "mia_park")
    assert row == {**row, "learned": True, "locked": False, "unlocks_at": 3}
    do_skill = next(b for b in catalog["blocks"] if b["id"] == "do_skill")
    assert "mia_park" in do_skill["params"][0]["options"]

    kid = join_kid_http(demo, "Mia")
    set_kid_level(demo, kid, 3, teacher)
    placed = teacher.post(demo.url(f"/api/teacher/skills/mia_park/try-on/{kid['car_id']}"), timeout=HTTP_TIMEOUT_S)
    assert placed.status_code == 200, placed.text
    car = dojo.connect(demo.base_url, class_code=demo.class_code, name="Mia")
    try:
        wait_until(lambda: car.x is not None and abs(car.x - placed.json()["pose"]["x_cm"]) < 5, 10, "the car at the garage start")
        assert not in_box(car.x, car.y)
        car.do("mia_park")
        wait_until(lambda: in_box(car.x, car.y), 5, f"the car in the box (it is at {car.x:.0f}, {car.y:.0f})")
        heading = (car.heading + 180) % 360 - 180
        assert abs(heading) <= 12.0 or abs(abs(heading) - 180) <= 12.0
    finally:
        car.close()


def test_below_the_skills_level_the_gate_refuses_it_with_the_level_sentence(classroom):
    demo = classroom
    join_kid_http(demo, "Leo")  # joins at level 1
    car = dojo.connect(demo.base_url, class_code=demo.class_code, name="Leo")
    try:
        with pytest.raises(dojo.Refused) as refused:
            car.do("mia_park")
        assert "level 3" in str(refused.value)
    finally:
        car.close()


def test_a_new_version_reaches_the_car_and_a_rollback_puts_the_previous_one_back(classroom, taught):
    demo = classroom
    teacher = teacher_login(demo)
    lab = SkillLab(demo.data_dir / "server")
    v2 = lab.train("mia_park", "park", taught.dataset_id if (lab.datasets / taught.dataset_id).exists()
                   else lab.record_demos("park", episodes=10), budget=Budget(max_steps=800, seed=1), taught_by="Mia")
    lab.store.mark_promoted("mia_park", v2.id)  # as if it had won its evaluation: what matters here is the trip to the car
    wait_until(lambda: car_copies(demo, teacher)["car-1"]["version"] == v2.id and car_copies(demo, teacher)["car-1"]["ok"],
               DEPLOY_S, f"car-1 to install {v2.id}")
    resp = teacher.post(demo.url("/api/teacher/skills/mia_park/rollback"), timeout=HTTP_TIMEOUT_S)
    assert resp.status_code == 200, resp.text
    assert resp.json()["skill"]["current"] == "v001"
    wait_until(lambda: car_copies(demo, teacher)["car-1"] == {"version": "v001", "ok": True, "message": ""}, DEPLOY_S,
               "car-1 to be back on v001")
    wait_until(lambda: car_log(demo).count("'name': 'mia_park', 'version': 'v001', 'ok': True") >= 2, 5,
               "the car's own log to show v001 installed again")
    again = teacher.post(demo.url("/api/teacher/skills/mia_park/rollback"), timeout=HTTP_TIMEOUT_S)
    assert again.status_code == 409 and "factory version" in again.json()["error"]["message"]


def test_a_model_changed_on_the_servers_disk_is_never_sent(classroom):
    demo = classroom
    teacher = teacher_login(demo)
    lab = SkillLab(demo.data_dir / "server")
    rec = lab.store.get("mia_park")
    other = next((v.id for v in rec.versions if v.id != rec.current), None) or lab.train(
        "mia_park", "park", lab.record_demos("park", episodes=10), budget=Budget(max_steps=400)).id
    onnx = lab.store.version_dir("mia_park", other) / "mia_park.onnx"
    good = onnx.read_bytes()
    installed = car_log(demo).count(f"'version': '{other}', 'ok': True")
    onnx.write_bytes(good[:-4] + b"\xff\xff\xff\xff")  # changed after the store recorded its hash
    try:
        lab.store.mark_promoted("mia_park", other)
        copy = wait_until(lambda: (c := car_copies(demo, teacher)["car-1"])["version"] == other and c, DEPLOY_S,
                          f"the server to try sending {other}")
        assert copy["ok"] is False
        assert copy["message"].startswith(f"not sent: skill mia_park {other}: mia_park.onnx was changed or damaged")
        assert car_log(demo).count(f"'version': '{other}', 'ok': True") == installed  # the car never got it
    finally:
        onnx.write_bytes(good)
        lab.store.rollback("mia_park")


def test_the_teachers_promote_refuses_a_worse_candidate_and_the_cars_keep_the_current_one(classroom):
    demo = classroom
    teacher = teacher_login(demo)
    lab = SkillLab(demo.data_dir / "server")
    current = lab.store.get("mia_park").current
    weak = lab.train("mia_park", "park", lab.record_demos("park", episodes=3), budget=Budget(max_steps=60, eval_every=20))
    resp = teacher.post(demo.url("/api/teacher/skills/mia_park/promote"), json={"version": weak.id}, timeout=120)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["promote"] is False and body["reason"].startswith("refused:"), body
    assert body["skill"]["current"] == current
    shown = next(v for v in body["skill"]["versions"] if v["id"] == weak.id)
    assert shown["success_rate"] is not None and shown["promoted"] is False  # evaluated, shown, not promoted
    assert car_copies(demo, teacher)["car-1"] == {"version": current, "ok": True, "message": ""}
