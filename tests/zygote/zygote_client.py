"""Drives a cellbox-kernel zygote over its control socket (JSON lines), for tests and benches."""

import json
import os
import pathlib
import secrets
import shutil
import socket
import subprocess
import tempfile
import time

BUILD_DIR = pathlib.Path(os.environ.get("CELLBOX_BUILD_DIR", "build")).resolve()
KERNEL = BUILD_DIR / "bin" / "cellbox-kernel"


class Zygote:
    """A zygote process and its control connection. Requests are answered in order; events
    ({"event": "exit", ...}) can arrive in between and are kept in `events`."""

    def __init__(self, warm_modules="numpy,pandas,matplotlib", extra_args=(), timeout=60):
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="cellbox-zygote-"))
        # When this zygote started: what it leaves in /tmp is newer (a zygote SIGKILLed during
        # its startup by another run on this machine may have left older ones).
        self.started = time.time()
        path = str(self.root / "control.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(1)
        listener.settimeout(timeout)
        self.process = subprocess.Popen(
            [str(KERNEL), "--zygote", path, "--warm-modules", warm_modules, *extra_args])
        try:
            self.connection, _ = listener.accept()
        finally:
            listener.close()
        self.connection.settimeout(timeout)
        self.reader = self.connection.makefile("r")
        self.events = []
        self.next_id = 0
        self.hello = self._read()
        assert self.hello["event"] == "ready", self.hello

    def _read(self):
        line = self.reader.readline()
        if not line:
            raise EOFError("the zygote closed its control connection")
        return json.loads(line)

    def request(self, op, **fields):
        self.next_id += 1
        message = {"op": op, "id": self.next_id, **fields}
        self.connection.sendall((json.dumps(message) + "\n").encode())
        while True:
            answer = self._read()
            if "event" in answer:
                self.events.append(answer)
            elif answer.get("id") == self.next_id:
                return answer

    def wait_exit(self, pid, timeout=30):
        """The exit event of session `pid`."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("event") == "exit" and event["pid"] == pid:
                    return event
            if time.monotonic() > deadline:
                raise TimeoutError(f"no exit event for {pid}")
            self.connection.settimeout(max(0.01, deadline - time.monotonic()))
            self.events.append(self._read())

    def new_session_dirs(self):
        """An ipc dir with a fresh connection file (fresh HMAC key) and a work dir."""
        base = pathlib.Path(tempfile.mkdtemp(prefix="s", dir=self.root))
        ipc = base / "ipc"
        work = base / "work"
        ipc.mkdir()
        work.mkdir()
        connection = {
            "transport": "ipc", "ip": str(ipc / "k"), "shell_port": 1, "iopub_port": 2,
            "stdin_port": 3, "control_port": 4, "hb_port": 5,
            "key": secrets.token_hex(32), "signature_scheme": "hmac-sha256",
            "kernel_name": "cellbox-python",
        }
        connection_file = ipc / "kernel.json"
        connection_file.write_text(json.dumps(connection))
        return {"ipc_dir": str(ipc), "connection_file": str(connection_file),
                "workdir": str(work)}

    def spawn_kernel(self, **fields):
        dirs = self.new_session_dirs()
        if fields.pop("deferred_workdir", False):
            dirs.pop("workdir")
        answer = self.request("spawn", **dirs, **fields)
        assert "pid" in answer, answer
        return answer["pid"], dirs

    def disconnect(self):
        """Closes the control connection (the file object holds the socket open too)."""
        self.reader.close()
        self.connection.close()

    def close(self):
        self.disconnect()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def client_for(connection_file):
    from jupyter_client import BlockingKernelClient

    client = BlockingKernelClient(connection_file=connection_file)
    client.load_connection_file()
    client.start_channels()
    return client


def wait_ready(client, timeout=30):
    """Until the kernel answers kernel_info and its iopub messages reach us (a SUB socket
    misses what is published before its subscription is in place); returns the reply."""
    import queue

    deadline = time.monotonic() + timeout
    while True:
        reply = client.kernel_info(reply=True, timeout=timeout)
        try:
            client.get_iopub_msg(timeout=0.5)
        except queue.Empty:
            if time.monotonic() > deadline:
                raise
            continue
        while True:  # the rest of that status pair
            try:
                client.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                return reply


def execute(client, code, timeout=30):
    """Runs a cell; returns (reply content, list of iopub messages of that cell)."""
    msg_id = client.execute(code)
    outputs = []
    while True:
        message = client.get_iopub_msg(timeout=timeout)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            break
        outputs.append(message)
    reply = client.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = client.get_shell_msg(timeout=timeout)
    return reply["content"], outputs


def value_of(client, expression):
    """repr-free result of an expression: its text/plain output."""
    reply, outputs = execute(client, expression)
    assert reply["status"] == "ok", reply
    for message in outputs:
        if message["msg_type"] == "execute_result":
            return message["content"]["data"]["text/plain"]
    return None
