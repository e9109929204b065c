#!/usr/bin/python3
"""Zygote sessions against plain launches, in one run (issue #5 targets).

- pool hit: a session pre-spawned without its work dir; "go" (mount the user's work dir) and
  the first `1+1` result, as a gateway hands out a pooled session (target <= 10 ms);
- cold fork: "spawn" to kernel_info_reply (target <= 60 ms);
- plain launches: `cellbox-sandbox -- cellbox-kernel` and ipykernel (unsandboxed), process start
  to kernel_info_reply;
- memory: PSS and USS (private pages) per idle session after `import pandas`, summed over the
  session's processes (supervisor/launcher, init, kernel), with several sessions alive.

Raw ZeroMQ over ipc (no client threads in the measurement). Not a test.

    /usr/bin/python3 tests/bench/zygote_bench.py --build-dir build --runs 20
"""

import argparse
import json
import os
import pathlib
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import zmq
from jupyter_client.session import Session

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "zygote"))

from bench_util import stop_process  # noqa: E402 (run as a script from tests/bench)


def connection(ipc_dir):
    info = {"transport": "ipc", "ip": f"{ipc_dir}/k", "shell_port": 1, "iopub_port": 2,
            "stdin_port": 3, "control_port": 4, "hb_port": 5, "key": secrets.token_hex(32),
            "signature_scheme": "hmac-sha256"}
    path = pathlib.Path(ipc_dir) / "kernel.json"
    path.write_text(json.dumps(info))
    return info, str(path)


class Client:
    """Shell and iopub sockets to one kernel (ipc connects before the kernel binds)."""

    def __init__(self, context, info):
        self.session = Session(key=info["key"].encode())
        self.shell = context.socket(zmq.DEALER)
        # As the gateway does: retry the connection after 5 ms, not ZeroMQ's 100 ms.
        self.shell.setsockopt(zmq.RECONNECT_IVL, 5)
        self.shell.connect(f"ipc://{info['ip']}-{info['shell_port']}")
        self.iopub = context.socket(zmq.SUB)
        self.iopub.setsockopt(zmq.RECONNECT_IVL, 5)
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
        self.iopub.connect(f"ipc://{info['ip']}-{info['iopub_port']}")

    def kernel_info(self, timeout=30):
        """Sends kernel_info_request every 5 ms until one is answered (the kernel may not
        have bound yet)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            self.session.send(self.shell, "kernel_info_request", {})
            if self.shell.poll(5):
                self.session.recv(self.shell)
                while self.shell.poll(0):  # answers to earlier attempts
                    self.session.recv(self.shell)
                return

    def settle(self, timeout=30):
        """Until iopub messages reach us (a SUB socket misses what is published before its
        subscription is in place), then drains them: a pooled session is in this state."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            self.kernel_info()
            if self.iopub.poll(100):
                while self.iopub.poll(50):
                    self.session.recv(self.iopub)
                return
        raise TimeoutError("no iopub message")
        raise TimeoutError("no kernel_info_reply")

    def execute(self, code, timeout=30):
        msg = self.session.send(self.shell, "execute_request",
                                {"code": code, "silent": False, "store_history": True,
                                 "user_expressions": {}, "allow_stdin": False,
                                 "stop_on_error": True})
        result = None
        while True:
            if not self.iopub.poll(timeout * 1000):
                raise TimeoutError(code)
            _, message = self.session.recv(self.iopub)
            if message["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                continue
            if message["msg_type"] == "execute_result":
                result = message["content"]["data"]["text/plain"]
                break
            if message["msg_type"] == "error":
                raise RuntimeError(message["content"])
            if message["msg_type"] == "status" and \
                    message["content"]["execution_state"] == "idle":
                break
        self.session.recv(self.shell)
        return result

    def close(self):
        self.shell.close(0)
        self.iopub.close(0)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def memory_of(pids):
    """(PSS, USS) in MiB summed over `pids`."""
    pss = uss = 0
    for pid in pids:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            key, value = line.split(":", 1) if ":" in line else ("", "")
            if key == "Pss":
                pss += int(value.split()[0])
            elif key in ("Private_Clean", "Private_Dirty"):
                uss += int(value.split()[0])
    return pss / 1024, uss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default=os.environ.get("CELLBOX_BUILD_DIR", "build"))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--idle-sessions", type=int, default=4)
    args = parser.parse_args()
    os.environ["CELLBOX_BUILD_DIR"] = str(pathlib.Path(args.build_dir).resolve())
    from zygote_client import Zygote

    build = pathlib.Path(args.build_dir).resolve()
    sandbox, kernel = build / "bin" / "cellbox-sandbox", build / "bin" / "cellbox-kernel"
    context = zmq.Context()
    root = pathlib.Path(tempfile.mkdtemp(prefix="cellbox-zbench-"))
    zygote = Zygote()
    results = {}

    def new_dirs():
        base = pathlib.Path(tempfile.mkdtemp(dir=root))
        (base / "ipc").mkdir()
        (base / "work").mkdir()
        return str(base / "ipc"), str(base / "work")

    # Cold fork: spawn -> kernel_info_reply.
    cold = []
    for _ in range(args.runs):
        ipc, work = new_dirs()
        info, path = connection(ipc)
        client = Client(context, info)
        started = time.perf_counter()
        pid = zygote.request("spawn", ipc_dir=ipc, connection_file=path, workdir=work)["pid"]
        client.kernel_info()
        cold.append((time.perf_counter() - started) * 1000)
        client.close()
        zygote.request("kill", pid=pid)
        zygote.wait_exit(pid)
    results["cold fork: spawn -> kernel_info_reply"] = cold

    # Pool hit: pre-spawned and ready; go (workdir, memory) -> first result of 1+1.
    hits = []
    for _ in range(args.runs):
        ipc, work = new_dirs()
        info, path = connection(ipc)
        client = Client(context, info)
        pid = zygote.request("spawn", ipc_dir=ipc, connection_file=path)["pid"]
        client.settle()
        started = time.perf_counter()
        answer = zygote.request("go", pid=pid, workdir=work, memory="1G")
        assert answer.get("ok"), answer
        assert client.execute("1+1") == "2"
        hits.append((time.perf_counter() - started) * 1000)
        client.close()
        zygote.request("kill", pid=pid)
        zygote.wait_exit(pid)
    results["pool hit: go -> first 1+1 result"] = hits

    # Plain launches: process start -> kernel_info_reply.
    def plain(command_for, label):
        times = []
        for _ in range(max(5, args.runs // 2)):
            ipc, work = new_dirs()
            info, path = connection(ipc)
            client = Client(context, info)
            started = time.perf_counter()
            process = subprocess.Popen(command_for(ipc, work, path),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            client.kernel_info()
            times.append((time.perf_counter() - started) * 1000)
            client.close()
            stop_process(process, 10)
        results[label] = times

    plain(lambda ipc, work, path: [str(sandbox), "--ipc-dir", ipc, "--workdir", work, "--",
                                   str(kernel), "-f", path],
          "plain: cellbox-sandbox -- cellbox-kernel")
    plain(lambda ipc, work, path: ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", path],
          "plain: ipykernel (no sandbox)")

    # Memory per idle session after import pandas.
    sessions = []
    for _ in range(args.idle_sessions):
        ipc, work = new_dirs()
        info, path = connection(ipc)
        client = Client(context, info)
        pid = zygote.request("spawn", ipc_dir=ipc, connection_file=path, workdir=work)["pid"]
        client.settle()
        client.execute("import pandas")
        sessions.append((pid, client))
    time.sleep(1)
    zygote_memory = [memory_of(descendants(pid)) for pid, _ in sessions]
    for pid, client in sessions:
        client.close()
        zygote.request("kill", pid=pid)
        zygote.wait_exit(pid)
    plain_sessions = []
    for _ in range(args.idle_sessions):
        ipc, work = new_dirs()
        info, path = connection(ipc)
        client = Client(context, info)
        process = subprocess.Popen([str(sandbox), "--ipc-dir", ipc, "--workdir", work, "--",
                                    str(kernel), "-f", path],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client.settle()
        client.execute("import pandas")
        plain_sessions.append((process, client))
    time.sleep(1)
    plain_memory = [memory_of(descendants(p.pid)) for p, _ in plain_sessions]
    for process, client in plain_sessions:
        client.close()
        process.terminate()
        process.wait(timeout=10)
    zygote.close()
    shutil.rmtree(root, ignore_errors=True)

    print(f"\nlatency (ms, {args.runs} runs; plain launches {max(5, args.runs // 2)})")
    print(f"{'measure':<44} {'p50':>8} {'p99':>8}")
    for label, values in results.items():
        print(f"{label:<44} {statistics.median(values):8.1f} {percentile(values, 99):8.1f}")
    cold50 = statistics.median(results["cold fork: spawn -> kernel_info_reply"])
    hit50 = statistics.median(results["pool hit: go -> first 1+1 result"])
    for label in ("plain: cellbox-sandbox -- cellbox-kernel", "plain: ipykernel (no sandbox)"):
        base = statistics.median(results[label])
        print(f"{label:<44} is {base / cold50:5.1f}x a cold fork, {base / hit50:6.1f}x a pool hit")
    z_pss = statistics.mean(m[0] for m in zygote_memory)
    z_uss = statistics.mean(m[1] for m in zygote_memory)
    p_pss = statistics.mean(m[0] for m in plain_memory)
    p_uss = statistics.mean(m[1] for m in plain_memory)
    print(f"\nmemory per idle session after import pandas ({args.idle_sessions} alive, MiB)")
    print(f"{'':<32} {'PSS':>8} {'USS':>8}")
    print(f"{'zygote session':<32} {z_pss:8.1f} {z_uss:8.1f}")
    print(f"{'cellbox-sandbox + cellbox-kernel':<32} {p_pss:8.1f} {p_uss:8.1f}")
    print(f"{'plain / zygote':<32} {p_pss / z_pss:7.1f}x {p_uss / z_uss:7.1f}x")


if __name__ == "__main__":
    main()
