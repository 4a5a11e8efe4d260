"""HTTP for learned skills: the kid's side of teaching (tricks, drives, teach jobs) and the teacher's
Skills page (versions, evaluations, promote, roll back, send to cars).

Kid (Authorization: Bearer <token>):
- GET  /api/skills/tricks                   the tricks with their arenas and this kid's drives of each
- POST /api/skills/teach {trick, name?}     a teach job from this kid's good drives -> {job}
- GET  /api/skills/jobs/{id}                its progress: phase, fraction, losses, evaluation, decision
Teacher (session; CSRF for changes):
- GET  /api/teacher/skills                  every learned skill: who taught it, level, versions and scores,
                                            which cars have which version
- GET  /api/teacher/skills/{name}           one skill with every version's evaluation and trajectories
- POST /api/teacher/skills/{name}/promote {version?}   evaluates and promotes only if better and safe
- POST /api/teacher/skills/{name}/rollback  last-good becomes current again, and goes to the cars
- POST /api/teacher/skills/{name}/try-on/{car_id}  the car goes to the skill's trick arena, at a start
                                            (a simulated car is placed there), ready for `do skill [name]`
- POST /api/teacher/skills/teach {trick, name, demos?}  a teach job from the scripted expert's demos
- GET  /api/teacher/skills/jobs/{id}
Page: /skills/ (the teacher's Skills page, static/).
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from learning.drives import DriveLog, DriveLogError
from learning.store import SkillStoreError, check_name
from learning.tricks import TRICKS
from server.skills.deploy import Deployer
from server.skills.learned import LearnedSkills
from server.skills.teach import TeachJobs
from server.web.guards import bearer_kid, require_car, require_teacher
from server.web.http import json_error, read_json
from server.web.state import CLASSROOM, CONFIG

WEB_DIR = Path(__file__).resolve().parent / "static"
LEARNED: web.AppKey[LearnedSkills] = web.AppKey("learned_skills", LearnedSkills)
DEPLOYER: web.AppKey[Deployer] = web.AppKey("skill_deployer", Deployer)
JOBS: web.AppKey[TeachJobs] = web.AppKey("teach_jobs", TeachJobs)
SKILL_NAME = r"^[a-z][a-z0-9_]{0,39}$"
TRY_SEED_BASE = 3_000_000  # "try it" starts: never an evaluation or a demonstration start


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TeachBody(_Body):
    trick: Annotated[str, Field(min_length=1, max_length=40)]
    name: Annotated[str, Field(pattern=SKILL_NAME)] | None = None


class ExpertTeachBody(_Body):
    trick: Annotated[str, Field(min_length=1, max_length=40)]
    name: Annotated[str, Field(pattern=SKILL_NAME)]
    demos: Annotated[int, Field(ge=1, le=50)] = 10


class PromoteBody(_Body):
    version: Annotated[str, Field(pattern=r"^v[0-9]{3,6}$")] | None = None


def _trick(name: str) -> str:
    if name not in TRICKS:
        raise json_error(400, "unknown_trick", f"there is no trick {name!r}", name, f"pick one of: {', '.join(TRICKS)}")
    return name


def default_skill_name(kid_name: str, trick: str) -> str:
    """Mia + park -> mia_park (letters and digits of the kid's first name)."""
    first = re.sub(r"[^a-z0-9]", "", kid_name.lower().split()[0] if kid_name.split() else "") or "my"
    if not first[0].isalpha():
        first = "kid" + first
    return f"{first}_{trick}"[:40]


def drive_log(app: web.Application) -> DriveLog:
    return DriveLog(Path(app[CONFIG].data_dir) / "learning")


# --- kid ---------------------------------------------------------------------------------------


async def tricks(request: web.Request) -> web.Response:
    kid = bearer_kid(request)
    log = drive_log(request.app)
    out = []
    for t in TRICKS.values():
        out.append({"name": t.name, "title": t.title, "task": t.task_text, "time_limit_s": t.time_limit_s,
                    "arena": t.arena.model_dump(mode="json"), "skill_name": default_skill_name(kid.name, t.name),
                    "drives": log.summary(kid.kid_id, t.name)})
    return web.json_response({"tricks": out})


async def teach(request: web.Request) -> web.Response:
    kid = bearer_kid(request)
    body = await read_json(request, TeachBody)
    trick = _trick(body.trick)
    name = body.name or default_skill_name(kid.name, trick)
    _own_name(request.app, name, kid.name)
    running = next((j for j in request.app[JOBS].jobs.values() if j.owner == kid.kid_id and j.phase not in ("done", "failed")), None)
    if running is not None:
        raise json_error(409, "teach_busy", f"{kid.name} is already teaching {running.name} (job {running.id})",
                         running.id, "wait for it to finish (GET /api/skills/jobs/{id})")
    try:
        job = request.app[JOBS].start(owner=kid.kid_id, taught_by=kid.name, trick=trick, name=name)
    except SkillStoreError as exc:
        raise json_error(400, "skill_name", str(exc), name, "pick another name, e.g. mia_park") from None
    return web.json_response({"job": job.view()})


def _own_name(app: web.Application, name: str, kid_name: str) -> None:
    """A kid may teach a new skill or a new version of their own, never someone else's."""
    try:
        check_name(name)
    except SkillStoreError as exc:
        raise json_error(400, "skill_name", str(exc), name, "pick another name, e.g. mia_park") from None
    store = app[LEARNED].store
    if store.exists(name) and store.get(name).taught_by != kid_name:
        raise json_error(409, "skill_taken", f"{name} was taught by {store.get(name).taught_by}", name,
                         "give your skill your own name, e.g. with your name in front")


async def job(request: web.Request) -> web.Response:
    kid = bearer_kid(request)
    found = request.app[JOBS].get(request.match_info["job_id"])
    if found is None or found.owner != kid.kid_id:
        raise json_error(404, "unknown_job", "there is no such teach job of yours", request.match_info["job_id"],
                         "start one with POST /api/skills/teach")
    return web.json_response({"job": found.view()})


# --- teacher -----------------------------------------------------------------------------------


def _summary(app: web.Application, name: str) -> dict:
    rec = app[LEARNED].store.get(name)
    versions = []
    for v in rec.versions:
        e = v.eval or {}
        versions.append({"id": v.id, "created": v.created, "dataset": v.dataset, "promoted": v.id in rec.promoted,
                         "success_rate": e.get("success_rate"), "episodes": e.get("episodes"),
                         "collisions": e.get("collisions"), "safety_events": e.get("safety_events"),
                         "mean_time_s": e.get("mean_time_s"), "min_clearance_cm": e.get("min_clearance_cm"),
                         "train_s": v.train.get("elapsed_s"), "steps": v.train.get("steps")})
    return {"name": rec.name, "trick": rec.trick, "taught_by": rec.taught_by, "level": rec.level,
            "current": rec.current, "last_good": rec.last_good, "factory": rec.factory, "versions": versions,
            "cars": app[DEPLOYER].status(name)}


async def teacher_skills(request: web.Request) -> web.Response:
    require_teacher(request, csrf=False)
    learned = request.app[LEARNED]
    skills = []
    for name in learned.store.names():
        try:
            skills.append(_summary(request.app, name))
        except (SkillStoreError, ValueError, TypeError, KeyError) as exc:
            skills.append({"name": name, "error": str(exc)})
    return web.json_response({"skills": skills, "tricks": [{"name": t.name, "title": t.title} for t in TRICKS.values()]})


def _skill(request: web.Request) -> str:
    name = request.match_info["name"]
    store = request.app[LEARNED].store
    try:
        if not store.exists(name):
            raise SkillStoreError(f"there is no learned skill {name!r}")
    except SkillStoreError as exc:
        raise json_error(404, "unknown_skill", str(exc), name, "see GET /api/teacher/skills") from None
    return name


async def teacher_skill(request: web.Request) -> web.Response:
    require_teacher(request, csrf=False)
    name = _skill(request)
    store = request.app[LEARNED].store
    out = _summary(request.app, name)
    for v in out["versions"]:
        report = store.load_eval(name, v["id"]) or {}
        v["paths"] = [{"seed": e["seed"], "success": e["success"], "outcome": e["outcome"], "path": e["path"]}
                      for e in report.get("per_episode", [])[:20]]
    out["arena"] = TRICKS[out["trick"]].arena.model_dump(mode="json") if out["trick"] in TRICKS else None
    return web.json_response(out)


async def promote(request: web.Request) -> web.Response:
    require_teacher(request)
    name = _skill(request)
    body = await read_json(request, PromoteBody)
    jobs = request.app[JOBS]

    def run():
        from learning.evaluate import EvalConfig
        from learning.service import SkillLab  # the training stack, only when a teacher promotes

        lab = SkillLab(request.app[CONFIG].data_dir, eval_config=EvalConfig(episodes=jobs.eval_episodes))
        return lab.promote(name, body.version)

    try:
        decision = await jobs.run(run)
    except SkillStoreError as exc:
        raise json_error(400, "promote", str(exc), name, "pick a version the skill has (GET /api/teacher/skills)") from None
    if decision.promote:
        await changed(request.app, name)
    return web.json_response({"promote": decision.promote, "reason": decision.reason, "kid_text": decision.kid_text,
                              "skill": _summary(request.app, name)})


async def rollback(request: web.Request) -> web.Response:
    require_teacher(request)
    name = _skill(request)
    try:
        request.app[LEARNED].store.rollback(name)
    except SkillStoreError as exc:
        raise json_error(409, "rollback", str(exc), name, "a skill rolls back only to a version promoted before") from None
    await changed(request.app, name)
    return web.json_response({"skill": _summary(request.app, name)})


async def try_on(request: web.Request) -> web.Response:
    require_teacher(request)
    name = _skill(request)
    car_id = request.match_info["car_id"]
    classroom = request.app[CLASSROOM]
    if car_id in {c.car_id for c in classroom.all_cars()}:
        require_car(request, car_id)  # another teacher's car: 404, as if it did not exist
    if car_id not in classroom.connected_car_ids():
        raise json_error(409, "car_not_connected", f"{car_id} is not connected", car_id, "start the car first")
    trick = TRICKS[request.app[LEARNED].store.get(name).trick]
    pose = trick.start_pose(TRY_SEED_BASE + random.randrange(100_000))
    await classroom.set_arena(car_id, trick.arena, pose)
    return web.json_response({"car_id": car_id, "arena": trick.arena.name, "pose": pose.model_dump(mode="json")})


async def teacher_teach(request: web.Request) -> web.Response:
    require_teacher(request)
    body = await read_json(request, ExpertTeachBody)
    trick = _trick(body.trick)
    try:
        found = request.app[JOBS].start(owner="", taught_by="teacher", trick=trick, name=body.name,
                                        source="expert", demos=body.demos)
    except SkillStoreError as exc:
        raise json_error(400, "skill_name", str(exc), body.name, "pick another name") from None
    return web.json_response({"job": found.view()})


async def teacher_job(request: web.Request) -> web.Response:
    require_teacher(request, csrf=False)
    found = request.app[JOBS].get(request.match_info["job_id"])
    if found is None:
        raise json_error(404, "unknown_job", "there is no such teach job", request.match_info["job_id"], "")
    return web.json_response({"job": found.view()})


async def changed(app: web.Application, name: str) -> None:
    """The set of promoted skills changed: menus, cars and limits follow."""
    if app[LEARNED].scan():
        app[CLASSROOM].events.publish("skills_changed", name)
    await app[DEPLOYER].deploy_all()


async def _page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(WEB_DIR / "skills.html", headers={"Cache-Control": "no-cache"})


async def _to_page(request: web.Request) -> web.Response:
    raise web.HTTPFound("/skills/")


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/skills/tricks", tricks)
    r.add_post("/api/skills/teach", teach)
    r.add_get("/api/skills/jobs/{job_id}", job)
    r.add_get("/api/teacher/skills", teacher_skills)
    r.add_post("/api/teacher/skills/teach", teacher_teach)
    r.add_get("/api/teacher/skills/jobs/{job_id}", teacher_job)
    r.add_get("/api/teacher/skills/{name}", teacher_skill)
    r.add_post("/api/teacher/skills/{name}/promote", promote)
    r.add_post("/api/teacher/skills/{name}/rollback", rollback)
    r.add_post("/api/teacher/skills/{name}/try-on/{car_id}", try_on)
    r.add_get("/skills", _to_page)
    r.add_get("/skills/", _page)
    r.add_static("/skills/static/", WEB_DIR, follow_symlinks=False)
