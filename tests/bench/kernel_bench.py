#!/usr/bin/python3
"""cellbox-kernel against Debian's ipykernel 6.17, over direct ZeroMQ, in one run.

Measures process start to kernel_info_reply, the round trip of a trivial execute_request
(until both the reply and the idle status are in), and how long a SIGINT takes to stop a
sleeping cell. Prints a table with the ratio ipykernel / cellbox (higher is better for
cellbox). Not a test: nothing here passes or fails.

    make bench                       # or:
    /usr/bin/python3 tests/bench/kernel_bench.py --build-dir build --starts 10 --round-trips 500

With --base-build-dir, it compares instead the kernel CPU time per cell (user + system of the
kernel process, all its threads, from /proc) of another build's cellbox-kernel (e.g. main's,
in a worktree beside) with this build's, batches of cells alternating between the two kernels
in one run so that the load of a shared machine falls on both alike:

    /usr/bin/python3 tests/bench/kernel_bench.py --build-dir build \
        --base-build-dir ../wt-base/build --cells 3000
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import uuid

import zmq
from jupyter_client.session import Session

from proc_stats import process_cpu_seconds


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class DirectKernel:
    """A kernel process and raw ZeroMQ sockets to it: no client threads in the measurement."""

    def __init__(self, command):
        key = uuid.uuid4().hex
        shell, iopub, stdin, control, hb = free_ports(5)
        self.info = {"transport": "tcp", "ip": "127.0.0.1", "shell_port": shell,
                     "iopub_port": iopub, "stdin_port": stdin, "control_port": control,
                     "hb_port": hb, "key": key, "signature_scheme": "hmac-sha256"}
        handle, self.connection_file = tempfile.mkstemp(suffix=".json")
        with os.fdopen(handle, "w") as f:
            json.dump(self.info, f)
        self.session = Session(key=key.encode())
        self.context = zmq.Context()
        self.shell = self.context.socket(zmq.DEALER)
        self.shell.connect(f"tcp://127.0.0.1:{shell}")
        self.iopub = self.context.socket(zmq.SUB)
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
        self.iopub.connect(f"tcp://127.0.0.1:{iopub}")
        self.started = time.perf_counter()
        self.process = subprocess.Popen([a.replace("{connection_file}", self.connection_file)
                                         for a in command],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)

    def request(self, msg_type, content):
        msg = self.session.msg(msg_type, content)
        self.session.send(self.shell, msg)
        return msg["header"]["msg_id"]

    def recv(self, sock, timeout):
        if sock.poll(timeout * 1000):
            _, parts = self.session.feed_identities(sock.recv_multipart())
            return self.session.deserialize(parts)
        return None

    def wait_ready(self, timeout=30):
        """Seconds from process start until kernel_info_reply arrives (iopub also connected)."""
        deadline = time.perf_counter() + timeout
        msg_id = self.request("kernel_info_request", {})
        while time.perf_counter() < deadline:
            reply = self.recv(self.shell, 0.05)
            if reply and reply["parent_header"]["msg_id"] == msg_id:
                ready = time.perf_counter() - self.started
                self.drain_iopub()
                return ready
            if reply is None and self.process.poll() is not None:
                raise RuntimeError("kernel exited during start-up")
        raise TimeoutError("kernel did not answer kernel_info")

    def drain_iopub(self):
        while self.recv(self.iopub, 0.2) is not None:
            pass

    def execute(self, code, timeout=30):
        """Sends one execute_request and waits for its reply and its idle status. The frames
        are read without verifying signatures or decoding contents: the client's own cost
        stays out of the kernel's round trip."""
        msg_id = self.request("execute_request", {"code": code, "silent": False,
                                                  "store_history": True, "user_expressions": {},
                                                  "allow_stdin": False, "stop_on_error": True})
        parent_marker = f'"msg_id":"{msg_id}"'.encode()
        got_reply = got_idle = False
        deadline = time.perf_counter() + timeout
        while not (got_reply and got_idle):
            if time.perf_counter() > deadline:
                raise TimeoutError(code)
            for sock in zmq.select([self.shell, self.iopub], [], [], timeout)[0]:
                frames = sock.recv_multipart()
                start = frames.index(b"<IDS|MSG>")
                header, parent, content = frames[start + 2], frames[start + 3], frames[start + 5]
                if parent_marker not in parent.replace(b" ", b""):
                    continue
                if sock is self.shell:
                    got_reply = True
                elif b'"status"' in header and b'"idle"' in content:
                    got_idle = True
        return msg_id

    def close(self):
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.shell.close(0)
        self.iopub.close(0)
        self.context.term()
        os.unlink(self.connection_file)


def measure_start(command, runs):
    times = []
    for _ in range(runs):
        kernel = DirectKernel(command)
        try:
            times.append(kernel.wait_ready())
        finally:
            kernel.close()
    return statistics.median(times)


def measure_round_trips(command, count):
    kernel = DirectKernel(command)
    try:
        kernel.wait_ready()
        for _ in range(20):  # warm-up
            kernel.execute("pass")
        samples = []
        for _ in range(count):
            start = time.perf_counter()
            kernel.execute("pass")
            samples.append(time.perf_counter() - start)
        samples.sort()
        return samples[len(samples) // 2], samples[int(len(samples) * 0.99) - 1]
    finally:
        kernel.close()


def measure_interrupt(command, runs=5):
    kernel = DirectKernel(command)
    try:
        kernel.wait_ready()
        latencies = []
        for _ in range(runs):
            msg_id = kernel.request("execute_request", {"code": "import time\ntime.sleep(100)",
                                                        "silent": False, "store_history": False,
                                                        "user_expressions": {},
                                                        "allow_stdin": False})
            time.sleep(0.5)
            sent = time.perf_counter()
            os.kill(kernel.process.pid, signal.SIGINT)
            while True:
                reply = kernel.recv(kernel.shell, 10)
                if reply is None:
                    raise TimeoutError("no reply after SIGINT")
                if reply["parent_header"]["msg_id"] == msg_id:
                    latencies.append(time.perf_counter() - sent)
                    break
            kernel.drain_iopub()
        return statistics.median(latencies)
    finally:
        kernel.close()


CPU_CELLS = {"1+1": "1+1", "print(1)": "print(1)"}


def measure_cpu_per_cell(commands, cells, batch):
    """Per kernel and cell code: kernel CPU ms per cell and the p50 round trip in ms. The
    kernels run side by side; batches of `batch` cells alternate between them."""
    kernels = {name: DirectKernel(command) for name, command in commands.items()}
    try:
        for kernel in kernels.values():
            kernel.wait_ready()
            for _ in range(50):  # warm-up: first-use costs are not per-cell costs
                kernel.execute("1+1")
                kernel.execute("print(1)")
            kernel.drain_iopub()
        results = {}
        for label, code in CPU_CELLS.items():
            cpu = {name: 0.0 for name in kernels}
            samples = {name: [] for name in kernels}
            for _ in range(max(1, cells // batch)):
                for name, kernel in kernels.items():
                    before = process_cpu_seconds(kernel.process.pid)
                    for _ in range(batch):
                        start = time.perf_counter()
                        kernel.execute(code)
                        samples[name].append(time.perf_counter() - start)
                    cpu[name] += process_cpu_seconds(kernel.process.pid) - before
            for name in kernels:
                results[(name, label)] = (cpu[name] * 1000 / len(samples[name]),
                                          statistics.median(samples[name]) * 1000)
        return results
    finally:
        for kernel in kernels.values():
            kernel.close()


def compare_cpu(args):
    commands = {
        "base": [os.path.join(args.base_build_dir, "bin", "cellbox-kernel"), "-f",
                 "{connection_file}"],
        "this": [os.path.join(args.build_dir, "bin", "cellbox-kernel"), "-f", "{connection_file}"],
    }
    results = measure_cpu_per_cell(commands, args.cells, args.batch)
    print()
    print("| cell | base CPU/cell | this CPU/cell | base / this | base p50 | this p50 |")
    print("|---|---|---|---|---|---|")
    for label in CPU_CELLS:
        base_cpu, base_p50 = results[("base", label)]
        our_cpu, our_p50 = results[("this", label)]
        print(f"| `{label}` | {base_cpu:.3f} ms | {our_cpu:.3f} ms | {base_cpu / our_cpu:.2f}x "
              f"| {base_p50:.2f} ms | {our_p50:.2f} ms |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--round-trips", type=int, default=500)
    parser.add_argument("--base-build-dir", help="compare kernel CPU per cell with this build")
    parser.add_argument("--cells", type=int, default=3000, help="cells per kernel and code")
    parser.add_argument("--batch", type=int, default=250, help="cells per alternation")
    args = parser.parse_args()
    if args.base_build_dir:
        compare_cpu(args)
        return

    kernels = {
        "cellbox": [os.path.join(args.build_dir, "bin", "cellbox-kernel"), "-f", "{connection_file}"],
        "ipykernel": ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
    }
    results = {name: {} for name in kernels}
    for name, command in kernels.items():
        print(f"measuring {name} ...", flush=True)
        results[name]["start"] = measure_start(command, args.starts)
        results[name]["p50"], results[name]["p99"] = measure_round_trips(command, args.round_trips)
        results[name]["interrupt"] = measure_interrupt(command)

    rows = [("start to kernel_info_reply (median)", "start"),
            ("execute round trip p50", "p50"),
            ("execute round trip p99", "p99"),
            ("SIGINT to reply of a sleeping cell", "interrupt")]
    print()
    print("| measure | cellbox-kernel | ipykernel 6.17 | ipykernel / cellbox |")
    print("|---|---|---|---|")
    for label, key in rows:
        ours, theirs = results["cellbox"][key], results["ipykernel"][key]
        print(f"| {label} | {ours * 1000:.2f} ms | {theirs * 1000:.2f} ms | {theirs / ours:.1f}x |")


if __name__ == "__main__":
    main()
