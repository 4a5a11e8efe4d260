"""The coach gets camera frames, which never leave this machine: its Ollama host must be local unless the
teacher allows another one in coach.json on purpose (issue 17, finding 5). Before the fix any URL was taken,
and a server with a remote coach host started and would have sent kids' frames there."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from curriculum.coach import CoachConfig, is_local_host
from server.core.config import ServerConfig
from server.runner import start_server

LOCAL = ["http://127.0.0.1:11434", "127.0.0.1:11434", "http://localhost:11434", "https://localhost",
         "http://[::1]:11434", "http://127.8.0.1:9", "unix:/run/ollama.sock", "/run/ollama.sock"]
REMOTE = ["http://10.0.0.5:11434", "http://ollama.example.com", "192.168.1.20:11434", "http://127.0.0.1.nip.io",
          "http://localhost@evil.example", "http://[2001:db8::1]:11434", "ftp://127.0.0.1", "http://0.0.0.0:11434"]


@pytest.mark.parametrize("host", LOCAL)
def test_local_hosts_are_taken(host):
    assert is_local_host(host) and CoachConfig(host=host).host == host


@pytest.mark.parametrize("host", REMOTE)
def test_other_hosts_are_refused_naming_the_rule_and_the_fix(host):
    assert not is_local_host(host)
    with pytest.raises(ValidationError, match="frames never leave it") as exc:
        CoachConfig(host=host)
    assert "allow_remote_host: true" in str(exc.value)
    assert CoachConfig(host=host, allow_remote_host=True).host == host  # the teacher's explicit choice


async def test_a_server_with_a_remote_coach_host_does_not_start(tmp_path, monkeypatch):
    (tmp_path / "coach.json").write_text(json.dumps({"host": "http://10.0.0.5:11434"}))
    with pytest.raises(ValidationError, match="coach host must be on this machine"):
        await start_server(ServerConfig(port=0, data_dir=tmp_path, teacher_password="teacher-pass-123"))
    (tmp_path / "coach.json").unlink()
    monkeypatch.setenv("DOJO_OLLAMA_HOST", "http://ollama.example.com")
    with pytest.raises(ValidationError, match="coach host must be on this machine"):
        await start_server(ServerConfig(port=0, data_dir=tmp_path, teacher_password="teacher-pass-123"))
