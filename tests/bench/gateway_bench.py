#!/usr/bin/python3
"""cellbox serve (cellbox-kernel in cellbox-sandbox) against Debian's jupyter_server with
ipykernel, same client, one run: POST /api/kernels to the first execute_result of `1+1`
over the WebSocket, trivial execute round trip over the WebSocket (p50/p99), stdout
throughput to a WebSocket client, and PSS per idle kernel. Not a test.

    /usr/bin/python3 tests/bench/gateway_bench.py --build-dir build
"""

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid

import websockets


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(base, method, path, body=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(req, timeout=120) as res:
        text = res.read()
        return json.loads(text) if text else None


def execute_message(code, session):
    return {"header": {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request",
                       "session": session, "username": "bench", "version": "5.3",
                       "date": "2026-01-01T00:00:00.000000Z"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False,
                        "allow_stdin": False, "stop_on_error": False}}


async def run(ws, code, session, on_output=None):
    msg = execute_message(code, session)
    await ws.send(json.dumps(msg))
    got_reply = got_idle = False
    while not (got_reply and got_idle):
        m = json.loads(await ws.recv())
        if m["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
            continue
        if on_output:
            on_output(m)
        if m["channel"] == "shell":
            got_reply = True
        elif m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            got_idle = True


class Server:
    def __init__(self, name, command, base):
        self.name, self.base = name, base
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while True:
            try:
                http(base, "GET", "/api/kernelspecs")
                return
            except Exception:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"{name} did not start")
                time.sleep(0.2)

    def ws_url(self, kernel_id, session):
        return f"{self.base.replace('http', 'ws')}/api/kernels/{kernel_id}/channels?session_id={session}"

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


async def start_to_first_result(server, kernel_name):
    session = uuid.uuid4().hex
    start = time.perf_counter()
    kernel_id = http(server.base, "POST", "/api/kernels", {"name": kernel_name})["id"]
    result = None
    async with websockets.connect(server.ws_url(kernel_id, session), max_size=None) as ws:
        def capture(m):
            nonlocal result
            if m["msg_type"] == "execute_result" and result is None:
                result = time.perf_counter() - start
        await run(ws, "1+1", session, capture)
    http(server.base, "DELETE", f"/api/kernels/{kernel_id}")
    return result


async def round_trips_and_throughput(server, kernel_name, count):
    session = uuid.uuid4().hex
    kernel_id = http(server.base, "POST", "/api/kernels", {"name": kernel_name})["id"]
    async with websockets.connect(server.ws_url(kernel_id, session), max_size=None) as ws:
        for _ in range(10):
            await run(ws, "pass", session)
        samples = []
        for _ in range(count):
            t = time.perf_counter()
            await run(ws, "pass", session)
            samples.append(time.perf_counter() - t)
        samples.sort()
        received = 0

        def count_bytes(m):
            nonlocal received
            if m["msg_type"] == "stream":
                received += len(m["content"]["text"])
        t = time.perf_counter()
        await run(ws, "import sys\nline = 'x' * 1023 + '\\n'\nfor _ in range(64 * 1024):\n"
                      "    sys.stdout.write(line)", session, count_bytes)
        throughput = received / (time.perf_counter() - t) / 1e6
    http(server.base, "DELETE", f"/api/kernels/{kernel_id}")
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99) - 1], throughput, received


def pss_of(pids):
    total = 0
    for pid in pids:
        try:
            for line in open(f"/proc/{pid}/smaps_rollup"):
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def kernel_pids(pattern):
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if re.search(pattern, line)]


def idle_pss(server, kernel_name, pattern, kernels=3):
    ids = [http(server.base, "POST", "/api/kernels", {"name": kernel_name})["id"]
           for _ in range(kernels)]
    time.sleep(2)
    pss = pss_of(kernel_pids(pattern)) / kernels
    for kernel_id in ids:
        http(server.base, "DELETE", f"/api/kernels/{kernel_id}")
    return pss


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--round-trips", type=int, default=200)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="cellbox-bench-")
    ours_port, theirs_port = free_port(), free_port()
    servers = [
        (Server("cellbox serve", [os.path.join(args.build_dir, "bin", "cellbox"), "serve",
                                  "--no-token", "--port", str(ours_port),
                                  "--runtime-dir", os.path.join(root, "cellbox")],
                f"http://127.0.0.1:{ours_port}"), "cellbox-python", r"bin/cellbox-kernel -f"),
        (Server("jupyter_server + ipykernel",
                ["/usr/bin/python3", "-m", "jupyter_server", "--no-browser", "--allow-root",
                 f"--port={theirs_port}", "--ServerApp.token=", "--ServerApp.password=",
                 "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
                 # its default rate limits drop output: off, as for API users
                 "--ServerApp.iopub_data_rate_limit=0", "--ServerApp.iopub_msg_rate_limit=0"],
                f"http://127.0.0.1:{theirs_port}"), "python3", r"ipykernel_launcher -f"),
    ]
    results = {}
    try:
        for server, kernel_name, pattern in servers:
            print(f"measuring {server.name} ...", flush=True)
            starts = [asyncio.run(start_to_first_result(server, kernel_name))
                      for _ in range(args.starts)]
            p50, p99, throughput, received = asyncio.run(
                round_trips_and_throughput(server, kernel_name, args.round_trips))
            assert received == 64 * 1024 * 1024, f"{server.name} lost output: {received}"
            results[server.name] = {"start": statistics.median(starts), "p50": p50, "p99": p99,
                                    "throughput": throughput,
                                    "pss": idle_pss(server, kernel_name, pattern)}
    finally:
        for server, _, _ in servers:
            server.stop()
    ours, theirs = results["cellbox serve"], results["jupyter_server + ipykernel"]
    print()
    print("| measure | cellbox serve | jupyter_server + ipykernel | ratio (better side) |")
    print("|---|---|---|---|")
    print(f"| POST /api/kernels to first `1+1` result, median of {args.starts} | "
          f"{ours['start'] * 1000:.0f} ms | {theirs['start'] * 1000:.0f} ms | "
          f"{theirs['start'] / ours['start']:.1f}x |")
    print(f"| execute round trip over the WebSocket, p50 | {ours['p50'] * 1000:.2f} ms | "
          f"{theirs['p50'] * 1000:.2f} ms | {theirs['p50'] / ours['p50']:.1f}x |")
    print(f"| execute round trip over the WebSocket, p99 | {ours['p99'] * 1000:.2f} ms | "
          f"{theirs['p99'] * 1000:.2f} ms | {theirs['p99'] / ours['p99']:.1f}x |")
    print(f"| stdout throughput to the client (64 MiB) | {ours['throughput']:.0f} MB/s | "
          f"{theirs['throughput']:.0f} MB/s | {ours['throughput'] / theirs['throughput']:.1f}x |")
    print(f"| PSS per idle kernel | {ours['pss'] / 2**20:.1f} MiB | {theirs['pss'] / 2**20:.1f} MiB"
          f" | {theirs['pss'] / ours['pss']:.1f}x |")


if __name__ == "__main__":
    main()
