"""The LeRobot v3.0 dataset: written with pyarrow, read back by our reader, checked against the layout.

The oracles here read the files with pyarrow and json directly (not through learning.dataset)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from learning.dataset import DatasetLayoutError, write_dataset
from learning.dataset_check import read_dataset
from learning.rollout import rollout
from learning.tricks import get_trick
from robot_runtime.task_features import OBSERVATION_FIELDS


@pytest.fixture(scope="module")
def episodes():
    return rollout(get_trick("slalom"), [11, 12, 13], expert=True, record=True)


@pytest.fixture
def written(tmp_path, episodes):
    trick = get_trick("slalom")
    return write_dataset(tmp_path / "ds", episodes, {trick.name: trick.task_text}), episodes


def test_files_are_where_lerobot_v3_looks_for_them(written):
    root, _ = written
    for rel in ("meta/info.json", "meta/stats.json", "meta/tasks.parquet", "meta/episodes/chunk-000/file-000.parquet",
                "data/chunk-000/file-000.parquet"):
        assert (root / rel).is_file(), rel
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["fps"] == 50 and isinstance(info["fps"], int)
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    for key in ("timestamp", "frame_index", "episode_index", "index", "task_index", "observation.state", "action"):
        assert key in info["features"]
    assert info["features"]["observation.state"]["names"] == list(OBSERVATION_FIELDS)
    assert info["features"]["action"]["names"] == ["throttle", "steering"]


def test_round_trip_keeps_every_frame_and_the_applied_command_as_action(written):
    root, eps = written
    ds = read_dataset(root)
    assert ds.info["total_episodes"] == 3 and ds.info["total_frames"] == sum(len(e.actions) for e in eps)
    np.testing.assert_allclose(ds.states, np.concatenate([np.asarray(e.observations) for e in eps]), rtol=1e-6, atol=1e-4)
    np.testing.assert_array_equal(ds.actions, np.concatenate([np.asarray(e.actions, dtype=np.float32) for e in eps]))
    np.testing.assert_array_equal(ds.column("requested_action"),
                                  np.concatenate([np.asarray(e.requests, dtype=np.float32) for e in eps]))
    # the supervisor's ramp means the applied command differs from the request somewhere (kept apart)
    assert np.abs(ds.actions - ds.column("requested_action")).max() > 0.05
    facts = ds.episode_facts()
    assert [f["seed"] for f in facts] == [11, 12, 13] and all(f["source"] == "expert" for f in facts)
    assert ds.tasks == [get_trick("slalom").task_text]


def test_timestamps_are_exactly_frame_index_over_fps_and_ranges_tile_the_frames(written):
    root, eps = written
    data = pq.read_table(root / "data/chunk-000/file-000.parquet")
    ts = data.column("timestamp").to_numpy()
    fi = data.column("frame_index").to_numpy()
    assert data.schema.field("timestamp").type == pa.float32()
    assert np.array_equal(ts, (fi / 50).astype(np.float32))
    assert np.array_equal(data.column("index").to_numpy(), np.arange(data.num_rows))
    ep = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [(e["dataset_from_index"], e["dataset_to_index"]) for e in ep] == [
        (sum(len(x.actions) for x in eps[:i]), sum(len(x.actions) for x in eps[:i + 1])) for i in range(3)]
    assert pq.ParquetFile(root / "data/chunk-000/file-000.parquet").num_row_groups == 3  # one per episode


def test_stats_and_tasks_match_the_data(written):
    root, eps = written
    stats = json.loads((root / "meta/stats.json").read_text())
    actions = np.concatenate([np.asarray(e.actions, dtype=np.float32) for e in eps])
    np.testing.assert_allclose(stats["action"]["mean"], actions.mean(0), rtol=1e-5)
    np.testing.assert_allclose(stats["action"]["max"], actions.max(0))
    assert stats["action"]["count"] == [len(actions)]
    assert len(stats["observation.state"]["std"]) == len(OBSERVATION_FIELDS)
    tasks = pq.read_table(root / "meta/tasks.parquet")
    assert tasks.column("task").to_pylist() == [get_trick("slalom").task_text]
    assert json.loads(tasks.schema.metadata[b"pandas"])["index_columns"] == ["task"]  # pandas reads it as the index


def test_expert_narrates_every_step_in_a_sentence(written):
    root, _ = written
    narration = read_dataset(root).column("narration")
    assert all(isinstance(s, str) and s for s in narration)
    assert any("gate" in s and "steering left" in s for s in narration)
    assert any("gate" in s and "steering right" in s for s in narration)
    assert any("slowing down" in s for s in narration)


def _rewrite(path, table):
    pq.write_table(table, path)


@pytest.mark.parametrize("damage, message", [
    ("version", "codebase_version must be 'v3.0'"),
    ("timestamp", "timestamp .* must be exactly frame_index / fps"),
    ("stats", "stats.json: 'action' needs min, max, mean, std, count"),
    ("episode_range", "must start at"),
    ("undeclared", "not declared in info.json features"),
    ("missing_data", "data/chunk-000/file-000.parquet: missing"),
])
def test_reader_refuses_a_broken_layout_naming_the_rule(written, damage, message):
    root, _ = written
    data_path = root / "data/chunk-000/file-000.parquet"
    if damage == "version":
        info = json.loads((root / "meta/info.json").read_text())
        info["codebase_version"] = "v2.1"
        (root / "meta/info.json").write_text(json.dumps(info))
    elif damage == "timestamp":
        t = pq.read_table(data_path)
        ts = t.column("timestamp").to_numpy().copy()
        ts[5] += 0.001
        _rewrite(data_path, t.set_column(t.schema.get_field_index("timestamp"), "timestamp", pa.array(ts, pa.float32())))
    elif damage == "stats":
        stats = json.loads((root / "meta/stats.json").read_text())
        del stats["action"]["std"]
        (root / "meta/stats.json").write_text(json.dumps(stats))
    elif damage == "episode_range":
        p = root / "meta/episodes/chunk-000/file-000.parquet"
        t = pq.read_table(p)
        frm = t.column("dataset_from_index").to_numpy().copy()
        frm[1] += 1
        _rewrite(p, t.set_column(t.schema.get_field_index("dataset_from_index"), "dataset_from_index", pa.array(frm)))
    elif damage == "undeclared":
        t = pq.read_table(data_path)
        _rewrite(data_path, t.append_column("secret", pa.array(np.zeros(t.num_rows))))
    elif damage == "missing_data":
        data_path.unlink()
    with pytest.raises(DatasetLayoutError, match=message):
        read_dataset(root)
