"""SIP2 round trips per second to the simulated ILS, against a raw-socket echo floor.

Both servers run as separate processes on loopback, so the client's process measures only its
own side plus the server's answer time:

* floor: a plain Python socket server that answers every CR-terminated frame with a canned
  18 Item Information response, driven by a plain socket loop (no codec, no session);
* ours: ``SIP2Client.item_information`` (encode, checksum, session checks, decode) against
  ``kiosk ils-sim`` (SQLite lookup, full response).

The ratio ours/floor says how much of the raw loopback round-trip budget the whole SIP2 stack
and the simulated ILS keep. Alternating rounds, median reported.

    .venv/bin/python bench/sip2_roundtrip.py [--rounds 5] [--count 500]
"""

from __future__ import annotations

import argparse
import platform
import re
import socket
import statistics
import subprocess
import sys
import textwrap
import time

from sip2.client import ClientConfig, SIP2Client
from sip2.codec import encode
from sip2.messages import ItemInformation

ITEM = "31234000000016"  # The Hobbit, in the sample library

ECHO_SERVER = textwrap.dedent(
    r"""
    import socket, sys
    reply = b"1803000120261127    004006AB31234000000016|AJThe canned title|AQMain|AY0AZF000\r"
    srv = socket.create_server(("127.0.0.1", 0))
    print(srv.getsockname()[1], flush=True)
    conn, _ = srv.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    while True:
        data = conn.recv(65536)
        if not data:
            break
        buf += data
        while b"\r" in buf:
            _, buf = buf.split(b"\r", 1)
            conn.sendall(reply)
    """
)


TOOLKIT_SERVER = textwrap.dedent(
    r"""
    import threading
    from sip2 import messages as m
    from sip2.server import Router, SIP2Server
    r = Router()
    @r.route(m.Login)
    def login(req, ctx):
        ctx.logged_in = True
        return m.LoginResponse(ok=True)
    @r.route(m.SCStatus)
    def status(req, ctx):
        return m.ACSStatus(institution_id="demo")
    @r.route(m.ItemInformation)
    def item(req, ctx):
        return m.ItemInformationResponse(circulation_status=3, item_id=req.item_id,
                                         title="The canned title", permanent_location="Main")
    server = SIP2Server(r).start()
    print(server.address[1], flush=True)
    threading.Event().wait()
    """
)


def start_toolkit() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-c", TOOLKIT_SERVER], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def start_echo() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-c", ECHO_SERVER], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def start_sim() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "ils-sim", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"listening on [\d.]+:(\d+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"the simulated ILS did not start: {line!r}")
    return proc, int(match.group(1))


def floor_round(sock: socket.socket, count: int) -> float:
    frame = encode(ItemInformation(institution_id="demo", item_id=ITEM), sequence=0)
    start = time.perf_counter()
    for _ in range(count):
        sock.sendall(frame)
        buf = b""
        while not buf.endswith(b"\r"):
            buf += sock.recv(65536)
    return count / (time.perf_counter() - start)


def ours_round(client: SIP2Client, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        client.item_information(ITEM)
    return count / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    echo, echo_port = start_echo()
    toolkit, toolkit_port = start_toolkit()
    sim, sim_port = start_sim()
    try:
        raw = socket.create_connection(("127.0.0.1", echo_port))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        clients = {}
        for name, port in (("toolkit", toolkit_port), ("sim", sim_port)):
            clients[name] = SIP2Client(ClientConfig(host="127.0.0.1", port=port, username="demo", password="",
                                                    institution_id="demo", heartbeat_interval=3600))
            clients[name].connect()
        assert clients["sim"].item_information(ITEM).title, "the sample library lacks the benchmark item"
        floor_round(raw, 50)
        for client in clients.values():
            ours_round(client, 50)
        floors, stack, full = [], [], []
        for _ in range(args.rounds):
            floors.append(floor_round(raw, args.count))
            stack.append(ours_round(clients["toolkit"], args.count))
            full.append(ours_round(clients["sim"], args.count))
        for client in clients.values():
            client.close()
        raw.close()
    finally:
        for proc in (echo, toolkit, sim):
            proc.terminate()
            proc.wait(timeout=10)
    f, t, o = statistics.median(floors), statistics.median(stack), statistics.median(full)
    print(f"machine: {platform.machine()} {platform.python_implementation()} {platform.python_version()}")
    print(f"{'path (each server in its own process)':<52} {'round trips/s':>14} {'ms each':>9} {'vs floor':>9}")
    for label, value in (
        ("floor: raw socket <-> canned echo", f),
        ("SIP2Client 17/18 <-> sip2.server, canned answer", t),
        ("SIP2Client 17/18 <-> kiosk ils-sim (SQLite)", o),
    ):
        print(f"{label:<52} {value:>14,.0f} {1000 / value:>9.3f} {value / f:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
