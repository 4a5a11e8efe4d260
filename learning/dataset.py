"""Demonstrations as a LeRobot v3.0 dataset, written and read with pyarrow (no LeRobot install needed).

    write_dataset(root, episodes)            # meta/info.json, stats.json, tasks.parquet, episodes, data
    ds = read_dataset(root)                  # (learning.dataset_check) checks the layout first (DatasetLayoutError names the rule)
    ds.states, ds.actions, ds.episode_index  # numpy arrays, one row per frame

Layout (see docs/learning.md; checked against LeRobot's own reader):

    meta/info.json                            codebase_version "v3.0", fps, features, counters, templates
    meta/stats.json                           min/max/mean/std/count per numeric feature
    meta/tasks.parquet                        index `task` (the sentence) -> column task_index
    meta/episodes/chunk-000/file-000.parquet  one row per episode: where its frames are, its stats, ours
    data/chunk-000/file-000.parquet           one row per frame, episodes contiguous, one row group each

Frame columns: ``observation.state`` (OBSERVATION_FIELDS), ``action`` = the command the safety
supervisor actually applied (throttle, steering), ``requested_action`` = what the driver asked for,
``narration`` (the expert's sentence), ``next.done``, and LeRobot's timestamp (exactly
frame_index / fps), frame_index, episode_index, index, task_index. Our own per-episode facts (seed,
who drove, outcome) are episode columns under ``mikro_dojo/``. Everything stays under the data
directory; nothing is uploaded anywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from robot_runtime.task_features import OBSERVATION_FIELDS

from learning.rollout import Episode

CODEBASE_VERSION = "v3.0"
ROBOT_TYPE = "mikro-dojo-rc-1/10"
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
EPISODES_PATH = "meta/episodes/" + CHUNK_FILE + ".parquet"
INFO_PATH, STATS_PATH, TASKS_PATH = "meta/info.json", "meta/stats.json", "meta/tasks.parquet"
CHUNKS_SIZE = 1000  # LeRobot's defaults; a classroom dataset fits one file by far
FILE_SIZE_MB = 100
ACTION_NAMES = ["throttle", "steering"]
INDEX_COLUMNS = ("frame_index", "episode_index", "index", "task_index")
OURS = "mikro_dojo/"  # prefix of our own episode columns (LeRobot keeps and ignores them)


class DatasetLayoutError(ValueError):
    """A dataset that is not the v3.0 layout we write; the message names the file and the rule."""


def features(n_state: int) -> dict:
    scalar = {"shape": [1], "names": None}
    return {
        "observation.state": {"dtype": "float32", "shape": [n_state], "names": list(OBSERVATION_FIELDS[:n_state])},
        "action": {"dtype": "float32", "shape": [2], "names": ACTION_NAMES},
        "requested_action": {"dtype": "float32", "shape": [2], "names": ACTION_NAMES},
        "narration": {"dtype": "string", **scalar},
        "next.done": {"dtype": "bool", **scalar},
        "timestamp": {"dtype": "float32", **scalar},
        **{k: {"dtype": "int64", **scalar} for k in INDEX_COLUMNS},
    }


def _stats(values: np.ndarray) -> dict:
    v = values.reshape(len(values), -1).astype(np.float64)
    return {"min": v.min(0).tolist(), "max": v.max(0).tolist(), "mean": v.mean(0).tolist(),
            "std": v.std(0).tolist(), "count": [int(len(v))]}


def _vectors(rows: list, width: int) -> pa.FixedSizeListArray:
    flat = pa.array(np.asarray(rows, dtype=np.float32).reshape(-1), type=pa.float32())
    return pa.FixedSizeListArray.from_arrays(flat, width)


def _tasks_table(tasks: list[str]) -> pa.Table:
    """tasks.parquet as pandas writes it (LeRobot reads it with pandas: the index is the task)."""
    table = pa.table({"task_index": pa.array(range(len(tasks)), pa.int64()), "task": pa.array(tasks, pa.string())})
    pandas_meta = {
        "index_columns": ["task"], "column_indexes": [],
        "columns": [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64", "metadata": None},
            {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object", "metadata": None},
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__}, "pandas_version": "2.2.0",
    }
    return table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})


def write_dataset(root: str | Path, episodes: list[Episode], task_texts: dict[str, str]) -> Path:
    """Write `episodes` (recorded, in order) as a new dataset at `root`; `task_texts`: trick -> sentence."""
    root = Path(root)
    eps = [e for e in episodes if e.actions]
    if not eps:
        raise ValueError("a dataset needs at least one recorded episode with frames (record=True)")
    fps_values = {round(e.fps) for e in eps}
    if len(fps_values) != 1:
        raise ValueError(f"every episode of a dataset needs the same frame rate (got {sorted(fps_values)} fps)")
    fps = fps_values.pop()
    n_state = len(eps[0].observations[0])
    tasks = list(dict.fromkeys(task_texts.get(e.trick, e.trick) for e in eps))
    cols: dict[str, list] = {k: [] for k in ("state", "action", "request", "narration", "done", "ts", *INDEX_COLUMNS)}
    ep_rows: dict[str, list] = {k: [] for k in ("episode_index", "tasks", "length", "from", "to", "seed", "source",
                                                "outcome", "success", "trick")}
    stats_cols: dict[str, list] = {}
    start = 0
    for ei, ep in enumerate(eps):
        n = len(ep.actions)
        task = task_texts.get(ep.trick, ep.trick)
        frames = np.arange(n)
        cols["state"] += ep.observations
        cols["action"] += ep.actions
        cols["request"] += ep.requests
        cols["narration"] += ep.narration or [""] * n
        cols["done"] += [False] * (n - 1) + [True]
        cols["ts"] += (frames / fps).astype(np.float32).tolist()
        cols["frame_index"] += frames.tolist()
        cols["episode_index"] += [ei] * n
        cols["index"] += range(start, start + n)
        cols["task_index"] += [tasks.index(task)] * n
        for key, rows in (("observation.state", ep.observations), ("action", ep.actions)):
            for stat, value in _stats(np.asarray(rows)).items():
                stats_cols.setdefault(f"stats/{key}/{stat}", []).append(value)
        for k, v in (("episode_index", ei), ("tasks", [task]), ("length", n), ("from", start), ("to", start + n),
                     ("seed", ep.seed), ("source", ep.source), ("outcome", ep.outcome), ("success", ep.success),
                     ("trick", ep.trick)):
            ep_rows[k].append(v)
        start += n
    data = pa.table({
        "observation.state": _vectors(cols["state"], n_state),
        "action": _vectors(cols["action"], 2),
        "requested_action": _vectors(cols["request"], 2),
        "narration": pa.array(cols["narration"], pa.string()),
        "next.done": pa.array(cols["done"], pa.bool_()),
        "timestamp": pa.array(cols["ts"], pa.float32()),
        **{k: pa.array(cols[k], pa.int64()) for k in INDEX_COLUMNS},
    })
    zeros = [0] * len(eps)
    episodes_table = pa.table({
        "episode_index": pa.array(ep_rows["episode_index"], pa.int64()),
        "tasks": pa.array(ep_rows["tasks"], pa.list_(pa.string())),
        "length": pa.array(ep_rows["length"], pa.int64()),
        "data/chunk_index": pa.array(zeros, pa.int64()), "data/file_index": pa.array(zeros, pa.int64()),
        "dataset_from_index": pa.array(ep_rows["from"], pa.int64()),
        "dataset_to_index": pa.array(ep_rows["to"], pa.int64()),
        "meta/episodes/chunk_index": pa.array(zeros, pa.int64()), "meta/episodes/file_index": pa.array(zeros, pa.int64()),
        **{k: pa.array(v, pa.list_(pa.int64() if k.endswith("/count") else pa.float64())) for k, v in stats_cols.items()},
        OURS + "trick": pa.array(ep_rows["trick"], pa.string()),
        OURS + "seed": pa.array(ep_rows["seed"], pa.int64()),
        OURS + "source": pa.array(ep_rows["source"], pa.string()),
        OURS + "outcome": pa.array(ep_rows["outcome"], pa.string()),
        OURS + "success": pa.array(ep_rows["success"], pa.bool_()),
    })
    feats = features(n_state)
    stats = {k: _stats(np.asarray(data.column(k).to_pylist())) for k, f in feats.items()
             if f["dtype"] not in ("string", "bool")}
    info = {
        "codebase_version": CODEBASE_VERSION, "robot_type": ROBOT_TYPE,
        "total_episodes": len(eps), "total_frames": start, "total_tasks": len(tasks),
        "chunks_size": CHUNKS_SIZE, "data_files_size_in_mb": FILE_SIZE_MB, "video_files_size_in_mb": 200,
        "fps": fps, "splits": {"train": f"0:{len(eps)}"},
        "data_path": DATA_PATH, "video_path": None, "features": feats,
    }
    for rel in (DATA_PATH, EPISODES_PATH):
        (root / rel.format(chunk_index=0, file_index=0)).parent.mkdir(parents=True, exist_ok=True)
    _write_by_episode(data, root / DATA_PATH.format(chunk_index=0, file_index=0), [r - f for f, r in zip(ep_rows["from"], ep_rows["to"])])
    pq.write_table(episodes_table, root / EPISODES_PATH.format(chunk_index=0, file_index=0))
    pq.write_table(_tasks_table(tasks), root / TASKS_PATH)
    (root / STATS_PATH).write_text(json.dumps(stats, indent=1))
    (root / INFO_PATH).write_text(json.dumps(info, indent=2))
    return root


def _write_by_episode(table: pa.Table, path: Path, lengths: list[int]) -> None:
    """One row group per episode, as LeRobot's recorder writes (episode i is row group i)."""
    with pq.ParquetWriter(path, table.schema, compression="snappy") as writer:
        offset = 0
        for n in lengths:
            writer.write_table(table.slice(offset, n))
            offset += n


@dataclass
class Dataset:
    root: Path
    info: dict
    stats: dict
    tasks: list[str]
    episodes: pa.Table
    frames: pa.Table

    @property
    def fps(self) -> int:
        return self.info["fps"]

    @property
    def state_names(self) -> list[str]:
        return self.info["features"]["observation.state"]["names"]

    def column(self, name: str) -> np.ndarray:
        col = self.frames.column(name)
        if pa.types.is_fixed_size_list(col.type):
            return np.asarray(col.combine_chunks().flatten(), dtype=np.float32).reshape(len(col), col.type.list_size)
        return np.asarray(col.to_pylist())

    @property
    def states(self) -> np.ndarray:
        return self.column("observation.state")

    @property
    def actions(self) -> np.ndarray:
        return self.column("action")

    @property
    def episode_index(self) -> np.ndarray:
        return self.column("episode_index")

    def episode_facts(self) -> list[dict]:
        """Per episode: index, length, task, and our columns (trick, seed, source, outcome, success)."""
        rows = self.episodes.to_pylist()
        return [{"episode_index": r["episode_index"], "length": r["length"], "task": r["tasks"][0],
                 **{k[len(OURS):]: v for k, v in r.items() if k.startswith(OURS)}} for r in rows]
