"""Issue 9, point 1: what binary attachments make a server hold.

Two WebSocket clients each connect to `/`, announce a binary event with 1,000
attachments (`451000-[...]`) and send up to 1,000 binary frames of 999,000 bytes (just
under the default max payload) as fast as the server reads them. The script samples the
server process's RSS every 50 ms and prints its peak (VmHWM) and whether the server
closed the attackers. Against a server that buffers every attachment until the packet
completes, the peak approaches 2 GB.

    .venv/bin/python bench/attacks/binary_attachments.py target/release/test-server

(the repo-root .venv is the one tests/python/run.sh makes; it has websocket-client).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import websocket

# tests/support/ferrosocket_testing.py: starting a server and reading its LISTENING line.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "support"))
from ferrosocket_testing import start_command  # noqa: E402


def vm(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def attack(port: int, result: dict) -> None:
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", timeout=10, suppress_origin=True
    )
    ws.recv()  # open
    ws.send("40")
    ws.recv()  # connect ack
    holes = ",".join(json.dumps({"_placeholder": True, "num": i}) for i in range(1000))
    ws.send(f'451000-["upload",{holes}]')
    frame = b"\x00" * 999_000
    sent = 0
    try:
        for _ in range(1000):
            ws.send_binary(frame)
            sent += 1
    except (websocket.WebSocketException, OSError):
        pass
    result["sent"] = sent
    try:
        ws.settimeout(3)
        while True:
            op, _ = ws.recv_data(control_frame=True)
            if op == websocket.ABNF.OPCODE_CLOSE:
                result["closed"] = True
                break
    except (websocket.WebSocketException, OSError):
        result["closed"] = True
    ws.close()


def main() -> int:
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/test-server"
    srv = start_command([binary, "--host", "127.0.0.1", "--port", "0"])
    try:
        port, pid = srv.port, srv.proc.pid
        base = vm(pid, "VmRSS")
        results = [{}, {}]
        threads = [threading.Thread(target=attack, args=(port, r)) for r in results]
        started = time.monotonic()
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            time.sleep(0.05)
        took = time.monotonic() - started
        peak = vm(pid, "VmHWM")
        print(
            f"server {binary}: RSS {base / 2**20:.1f} MiB before, peak {peak / 2**20:.1f} MiB; "
            f"frames accepted per attacker {[r.get('sent') for r in results]}, "
            f"attackers closed {[r.get('closed', False) for r in results]}, {took:.1f} s"
        )
    finally:
        srv.stop(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
