"""Our reader's check of a LeRobot v3.0 dataset: every rule LeRobot relies on, each failure named.

    ds = check_layout(root)      # -> learning.dataset.Dataset, or DatasetLayoutError("<file>: <rule> ...")

Rules: info.json says v3.0 with positive integer fps and counters that match the files; every frame
column is declared in `features` with its dtype and shape (and back); stats.json has min/max/mean/std/
count of the right width for every numeric feature; tasks.parquet maps each task sentence to
task_index 0..T-1; the episodes file has one row per episode, 0..E-1, whose [from, to) ranges tile
the frames in order and point at data files that exist; in the data, `index` is 0..N-1, frame_index
counts 0..length-1 within each episode, and timestamp is exactly frame_index / fps (as float32).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from learning.dataset import (
    CODEBASE_VERSION, DATA_PATH, EPISODES_PATH, INFO_PATH, STATS_PATH, TASKS_PATH, Dataset, DatasetLayoutError,
)

ARROW_DTYPES = {"float32": pa.float32(), "int64": pa.int64(), "bool": pa.bool_(), "string": pa.string()}
STAT_KEYS = ("min", "max", "mean", "std", "count")
REQUIRED_FRAME_KEYS = ("timestamp", "frame_index", "episode_index", "index", "task_index")
REQUIRED_EPISODE_KEYS = ("episode_index", "tasks", "length", "data/chunk_index", "data/file_index",
                         "dataset_from_index", "dataset_to_index")


def _fail(root: Path, rel: str, rule: str) -> DatasetLayoutError:
    return DatasetLayoutError(f"dataset {root}: {rel}: {rule}")


def _json(root: Path, rel: str) -> dict:
    path = root / rel
    if not path.is_file():
        raise _fail(root, rel, "missing (a v3.0 dataset has meta/info.json, meta/stats.json, meta/tasks.parquet, "
                    "meta/episodes/ and data/)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise _fail(root, rel, f"not valid JSON ({exc})") from None


def _parquet(root: Path, rel: str) -> pa.Table:
    path = root / rel
    if not path.is_file():
        raise _fail(root, rel, "missing")
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise _fail(root, rel, f"not a readable parquet file ({exc})") from None


def check_info(root: Path, info: dict) -> dict:
    if info.get("codebase_version") != CODEBASE_VERSION:
        raise _fail(root, INFO_PATH, f"codebase_version must be {CODEBASE_VERSION!r} (got {info.get('codebase_version')!r}); "
                    "v2.1 datasets (one file per episode) are not supported")
    fps = info.get("fps")
    if not isinstance(fps, int) or fps <= 0:
        raise _fail(root, INFO_PATH, f"fps must be a positive integer (got {fps!r})")
    feats = info.get("features")
    if not isinstance(feats, dict):
        raise _fail(root, INFO_PATH, "features must be a mapping of column name -> {dtype, shape, names}")
    for key in ("observation.state", "action", *REQUIRED_FRAME_KEYS):
        if key not in feats:
            raise _fail(root, INFO_PATH, f"features must declare {key!r}")
    for key, ft in feats.items():
        if ft.get("dtype") not in ARROW_DTYPES or not isinstance(ft.get("shape"), list) or len(ft["shape"]) != 1:
            raise _fail(root, INFO_PATH, f"feature {key!r} needs dtype in {sorted(ARROW_DTYPES)} and a 1-d shape "
                        f"(got dtype {ft.get('dtype')!r}, shape {ft.get('shape')!r})")
    if info.get("data_path") != DATA_PATH:
        raise _fail(root, INFO_PATH, f"data_path must be {DATA_PATH!r} (got {info.get('data_path')!r})")
    return feats


def check_layout(root: Path) -> Dataset:
    info = _json(root, INFO_PATH)
    feats = check_info(root, info)
    fps = info["fps"]
    stats = _json(root, STATS_PATH)
    for key, ft in feats.items():
        if ft["dtype"] in ("string", "bool"):
            continue
        st = stats.get(key)
        if not isinstance(st, dict) or any(k not in st for k in STAT_KEYS):
            raise _fail(root, STATS_PATH, f"{key!r} needs {', '.join(STAT_KEYS)} (training needs them)")
        for k in STAT_KEYS[:4]:
            if len(st[k]) != ft["shape"][0]:
                raise _fail(root, STATS_PATH, f"{key}.{k} has {len(st[k])} values, the feature has {ft['shape'][0]}")

    tasks_table = _parquet(root, TASKS_PATH)
    if "task_index" not in tasks_table.column_names or "task" not in tasks_table.column_names:
        raise _fail(root, TASKS_PATH, "needs the index `task` (the sentence) and the column task_index")
    order = np.argsort(tasks_table.column("task_index").to_numpy())
    tasks = [tasks_table.column("task").to_pylist()[i] for i in order]
    if sorted(tasks_table.column("task_index").to_pylist()) != list(range(len(tasks))):
        raise _fail(root, TASKS_PATH, f"task_index must be 0..{len(tasks) - 1}, each once")
    if info.get("total_tasks") != len(tasks):
        raise _fail(root, INFO_PATH, f"total_tasks is {info.get('total_tasks')} but tasks.parquet has {len(tasks)}")

    episodes = _parquet(root, EPISODES_PATH.format(chunk_index=0, file_index=0))
    missing = [k for k in REQUIRED_EPISODE_KEYS if k not in episodes.column_names]
    if missing:
        raise _fail(root, EPISODES_PATH.format(chunk_index=0, file_index=0), f"missing episode columns {missing}")
    eps = episodes.select(list(REQUIRED_EPISODE_KEYS)).to_pylist()
    if info.get("total_episodes") != len(eps):
        raise _fail(root, INFO_PATH, f"total_episodes is {info.get('total_episodes')} but the episodes file has {len(eps)} rows")

    frame_tables = {}
    expected_from = 0
    for i, ep in enumerate(eps):
        where = f"episode {i}"
        if ep["episode_index"] != i:
            raise _fail(root, "meta/episodes", f"{where}: episode_index must count 0, 1, 2 ... (got {ep['episode_index']})")
        if ep["dataset_from_index"] != expected_from or ep["dataset_to_index"] - ep["dataset_from_index"] != ep["length"]:
            raise _fail(root, "meta/episodes", f"{where}: frames [{ep['dataset_from_index']}, {ep['dataset_to_index']}) "
                        f"must start at {expected_from} and hold length={ep['length']} frames")
        if not ep["tasks"] or any(t not in tasks for t in ep["tasks"]):
            raise _fail(root, "meta/episodes", f"{where}: tasks {ep['tasks']} must be listed in tasks.parquet")
        rel = DATA_PATH.format(chunk_index=ep["data/chunk_index"], file_index=ep["data/file_index"])
        if rel not in frame_tables:
            frame_tables[rel] = _parquet(root, rel)
        expected_from = ep["dataset_to_index"]
    frames = pa.concat_tables(frame_tables.values()) if frame_tables else pa.table({})
    data_rel = "data/"
    if info.get("total_frames") != frames.num_rows or frames.num_rows != expected_from:
        raise _fail(root, INFO_PATH, f"total_frames is {info.get('total_frames')}; the data files hold {frames.num_rows} "
                    f"rows and the episodes cover {expected_from}")
    for key, ft in feats.items():
        if key not in frames.column_names:
            raise _fail(root, data_rel, f"column {key!r} is declared in features but missing from the data")
        typ = frames.schema.field(key).type
        want = ARROW_DTYPES[ft["dtype"]]
        width = ft["shape"][0]
        ok = typ == want if width == 1 and not pa.types.is_list(typ) and not pa.types.is_fixed_size_list(typ) else \
            (pa.types.is_fixed_size_list(typ) or pa.types.is_list(typ)) and typ.value_type == want
        if not ok:
            raise _fail(root, data_rel, f"column {key!r} is {typ}, features say {ft['dtype']} x {width}")
    extra = [c for c in frames.column_names if c not in feats]
    if extra:
        raise _fail(root, data_rel, f"columns {extra} are not declared in info.json features")

    index = frames.column("index").to_numpy()
    if not np.array_equal(index, np.arange(len(index))):
        raise _fail(root, data_rel, "index must be 0..total_frames-1 in order")
    frame_index = frames.column("frame_index").to_numpy()
    episode_index = frames.column("episode_index").to_numpy()
    for i, ep in enumerate(eps):
        lo, hi = ep["dataset_from_index"], ep["dataset_to_index"]
        if not (episode_index[lo:hi] == i).all() or not np.array_equal(frame_index[lo:hi], np.arange(hi - lo)):
            raise _fail(root, data_rel, f"episode {i}: rows {lo}..{hi - 1} must have episode_index {i} and "
                        "frame_index 0, 1, 2 ...")
    ts = frames.column("timestamp").to_numpy()
    want_ts = (frame_index / fps).astype(np.float32)
    bad = np.nonzero(ts != want_ts)[0]
    if len(bad):
        k = int(bad[0])
        raise _fail(root, data_rel, f"row {k}: timestamp {ts[k]!r} must be exactly frame_index / fps = "
                    f"{frame_index[k]} / {fps} = {want_ts[k]!r}")
    task_index = frames.column("task_index").to_numpy()
    if len(task_index) and (task_index.min() < 0 or task_index.max() >= len(tasks)):
        raise _fail(root, data_rel, f"task_index must be within 0..{len(tasks) - 1}")
    return Dataset(root, info, stats, tasks, episodes, frames)


def read_dataset(root: str | Path) -> Dataset:
    """Read a dataset written by write_dataset (or LeRobot), after checking its v3.0 layout."""
    return check_layout(Path(root))
