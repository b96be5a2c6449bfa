"""The captured messages in fixtures/python-socketio are still what Flask-SocketIO and the
installed python-socketio publish: capture.py run again into a temporary folder gives the
same files, byte for byte once the per-run values (sids, host ids) are masked. A
python-socketio upgrade that changes the wire shows here first."""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import re
from pathlib import Path

import pytest

from conftest import FIXTURES

# python-engineio's sids: 20 characters of URL-safe base64; host ids: uuid4 hex.
_SID = re.compile(rb'"[A-Za-z0-9_-]{20}"')
_HOST_ID = re.compile(rb'"[0-9a-f]{32}"')


def masked(raw: bytes) -> bytes:
    return _SID.sub(b'"<sid>"', _HOST_ID.sub(b'"<host_id>"', raw))


def load_capture():
    spec = importlib.util.spec_from_file_location("capture", os.path.join(FIXTURES, "capture.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("capture")
    load_capture().capture(str(out))
    return out


def committed() -> list:
    return sorted(name for name in os.listdir(FIXTURES) if name.endswith((".json", ".pickle")))


def test_the_same_files(fresh: Path) -> None:
    assert sorted(os.listdir(fresh)) == committed()


@pytest.mark.parametrize("name", [name for name in committed() if name.endswith(".json")])
def test_each_message_is_what_flask_socketio_publishes(fresh: Path, name: str) -> None:
    with open(os.path.join(FIXTURES, name), "rb") as file:
        kept = file.read()
    now = (fresh / name).read_bytes()
    assert masked(now) == masked(kept)
    assert json.loads(kept)["method"] in (
        "emit", "callback", "enter_room", "leave_room", "close_room", "disconnect")


def test_the_pickle_fixture_is_a_pickled_emit() -> None:
    with open(os.path.join(FIXTURES, "legacy-pickle-emit.pickle"), "rb") as file:
        legacy = pickle.loads(file.read())
    with open(os.path.join(FIXTURES, "emit-all.json"), "rb") as file:
        assert legacy == json.loads(file.read())
