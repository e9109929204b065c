"""Starts `cellbox serve` (and, for the --gateway-url tests, Debian's jupyter_server in front
of it) on free local ports."""

import asyncio
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

BUILD_DIR = pathlib.Path(os.environ.get("CELLBOX_BUILD_DIR", "build")).resolve()
CELLBOX = BUILD_DIR / "bin" / "cellbox"
TOKEN = "test-token-" + os.urandom(4).hex()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def v1_frame(parts):
    """A frame of the v1.kernel.websocket.jupyter.org protocol from raw parts (channel first):
    the offsets table, then the parts."""
    count = len(parts) + 1
    offsets, position = [], 8 * (count + 1)
    for part in parts:
        offsets.append(position)
        position += len(part)
    offsets.append(position)
    return struct.pack(f"<{count + 1}Q", count, *offsets) + b"".join(parts)


def encode_v1(channel, msg):
    """A Jupyter message (header, parent_header, metadata, content) as one v1 frame."""
    return v1_frame([channel.encode()] + [json.dumps(msg[k]).encode()
                                          for k in ("header", "parent_header", "metadata",
                                                    "content")])


def decode_v1(frame):
    """A v1 frame as a message: its four JSON parts, its channel and its buffers."""
    count = struct.unpack_from("<Q", frame)[0]
    offsets = struct.unpack_from(f"<{count}Q", frame, 8)
    parts = [frame[offsets[i]:offsets[i + 1]] for i in range(count - 1)]
    names = ("header", "parent_header", "metadata", "content")
    msg = {name: json.loads(parts[i + 1]) for i, name in enumerate(names)}
    msg["channel"] = parts[0].decode()
    msg["buffers"] = parts[5:]
    return msg


def stop_process(process, timeout=15):
    """SIGTERM, and SIGKILL if it has not exited `timeout` seconds later."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Gateway:
    """`ssl_context`: for a gateway started with --certfile, how requests verify it."""

    def __init__(self, *extra, work_dir=None, env=None, ssl_context=None):
        self.runtime = tempfile.mkdtemp(prefix="cellbox-gw-")
        self.work_dir = work_dir or os.path.join(self.runtime, "work")
        self.log = open(os.path.join(self.runtime, "serve.log"), "w+")
        self.process = subprocess.Popen(
            [str(CELLBOX), "serve", "--port", "0", "--token", TOKEN, "--runtime-dir",
             os.path.join(self.runtime, "run"), "--work-dir", self.work_dir,
             *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        line = self.process.stdout.readline()
        match = re.search(r"(https?)://127\.0\.0\.1:(\d+)/", line)
        assert match, f"no URL printed: {line!r}"
        self.port = int(match.group(2))
        self.url = f"{match.group(1)}://127.0.0.1:{self.port}"
        self.ssl_context = ssl_context

    def request(self, method, path, body=None, token=TOKEN, headers=None):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        all_headers = {"Authorization": f"token {token}"} if token else {}
        all_headers.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(req, timeout=60, context=self.ssl_context) as res:
                text = res.read()
                return res.status, (json.loads(text) if text else None), dict(res.headers)
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = text
            return e.code, parsed, dict(e.headers)

    def request_text(self, path, token=TOKEN):
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(req, timeout=60) as res:
            return res.read().decode()

    def stop(self):
        stop_process(self.process)

    def logs(self):
        self.log.seek(0)
        return self.log.read()

    def wait_for_log(self, text, seconds=10):
        """True once `text` is in the log, False if it is not within `seconds` (the gateway
        may log an event a moment after the client saw its effect)."""
        deadline = time.monotonic() + seconds
        while text not in self.logs():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


@pytest.fixture(scope="module")
def gateway():
    g = Gateway()
    yield g
    g.stop()


async def reply_and_outputs(receive, msg_id, timeout=60):
    """Reads decoded messages with `receive()` until the request `msg_id` has its shell reply
    and its idle status; returns (reply, iopub messages of that request)."""
    reply, outputs = None, []
    while reply is None or not any(o["msg_type"] == "status" and
                                   o["content"]["execution_state"] == "idle" for o in outputs):
        m = await asyncio.wait_for(receive(), timeout)
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        if m["channel"] == "shell":
            reply = m
        else:
            outputs.append(m)
    return reply, outputs


def npm_ci(directory):
    """Installs the packages pinned in `directory`/package.json (npm ci of its lockfile) unless
    those exact versions are already in its node_modules: quiet, and a no-op after the first
    run. For the suites that drive the gateway with JavaScript clients."""
    directory = pathlib.Path(directory)
    wanted = json.loads((directory / "package.json").read_text())["dependencies"]
    for name, version in wanted.items():
        installed = directory / "node_modules" / name / "package.json"
        if not installed.exists() or json.loads(installed.read_text())["version"] != version:
            break
    else:
        return
    if shutil.which("npm") is None:
        pytest.fail("npm is missing: install Debian's nodejs/npm (see packages.debian)")
    run = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                         cwd=directory, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"npm ci failed:\n{run.stdout}\n{run.stderr}"


def run_node_report(directory, script, args, timeout):
    """Runs `node script args...` in `directory`, in its own process group (killed with its
    children after `timeout` seconds); returns (exit code, report, stderr), the report being
    the JSON object on the last line of its output ({"unparsed": output} if there is none)."""
    node = subprocess.Popen(["node", str(pathlib.Path(directory) / script), *map(str, args)],
                            cwd=directory, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = node.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(node.pid, signal.SIGKILL)
        out, err = node.communicate()
        err += f"\n{script} killed after {timeout} s"
    lines = out.strip().splitlines()
    try:
        report = json.loads(lines[-1]) if lines else {}
    except ValueError:
        report = {"unparsed": out}
    return node.returncode, report, err
