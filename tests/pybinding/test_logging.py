"""The core's own messages reach Python's logging (the "ferrosocket" logger tree)."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import pytest
import websocket

import ferrosocket


def wait_for_record(caplog: Any, predicate: Any, timeout: float = 5.0) -> logging.LogRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in caplog.records:
            if predicate(record):
                return record
        time.sleep(0.02)
    raise AssertionError(f"no such record in {[(r.name, r.getMessage()) for r in caplog.records]}")


def test_warning_is_forwarded_by_default(caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    sio = ferrosocket.Server(max_connections=1)
    try:
        port = sio.start("127.0.0.1", 0)
        with socket.create_connection(("127.0.0.1", port)) as first:
            first.sendall(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
            first.recv(1)  # served: it holds the one slot
            with socket.create_connection(("127.0.0.1", port)) as second:
                assert second.recv(1) == b""  # refused: closed at once
        record = wait_for_record(caplog, lambda r: "max_connections reached" in r.getMessage())
        assert record.levelno == logging.WARNING
        assert record.name == "ferrosocket.engine.lifecycle"  # the accept loop's module
        assert "remote=127.0.0.1:" in record.getMessage()
    finally:
        sio.stop()


def test_info_with_logger_true(caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    sio = ferrosocket.Server(logger=True)
    sio.on("ping", lambda sid: "pong")
    try:
        port = sio.start("127.0.0.1", 0)
        ws = websocket.create_connection(f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket")
        try:
            assert ws.recv().startswith("0{")
            ws.send("40")
            assert ws.recv().startswith("40")
            ws.send("42[unterminated")  # a malformed packet closes this client, with a reason
            record = wait_for_record(caplog, lambda r: "malformed socket.io packet" in r.getMessage())
            assert record.levelno == logging.INFO
            assert record.name.startswith("ferrosocket.")
            assert "sid=" in record.getMessage()
        finally:
            ws.close()
    finally:
        sio.stop()
    wait_for_record(caplog, lambda r: r.getMessage().startswith("shutting down"))


@pytest.mark.parametrize("level", [logging.DEBUG])
def test_logger_level_lower_than_info(caplog: Any, level: int) -> None:
    caplog.set_level(level)
    logging.getLogger("ferrosocket").setLevel(level)
    try:
        sio = ferrosocket.Server(logger=True)
        sio.on("ping", lambda sid: "pong")
        port = sio.start("127.0.0.1", 0)
        ws = websocket.create_connection(f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket")
        ws.close()
        sio.stop()
        wait_for_record(caplog, lambda r: r.levelno == logging.DEBUG and r.name.startswith("ferrosocket."))
    finally:
        logging.getLogger("ferrosocket").setLevel(logging.NOTSET)
