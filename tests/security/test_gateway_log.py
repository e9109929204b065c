"""Attacks on the gateway's log from inside a session, in the three ways a kernel starts: a cell
must hold no descriptor on the gateway's own stdout or stderr, so that it cannot write lines
that pass for the gateway's, read the log (and the admin token in it) or truncate it. The
gateway here logs as under systemd or `cellbox serve >log 2>&1`: stdout and stderr are one file,
which is not a terminal."""

import os
import re
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import ADMIN_TOKEN, CELLBOX, Gateway, user_token
from in_cell import KERNEL_MODES, run_json_cell, start_gateway_for, start_kernel

URL_LINE = re.compile(r"(https?)://127\.0\.0\.1:(\d+)/")
# A gateway record: its own timestamp and level first, then msg.
GATEWAY_RECORD = re.compile(r'^ts=\S+ level=\w+ msg=')


class LoggedGateway(Gateway):
    """`cellbox serve` with stdout and stderr on one log file (not a terminal)."""

    def __init__(self, *extra, token_args=("--token", ADMIN_TOKEN), env=None):
        self.runtime = tempfile.mkdtemp(prefix="cellbox-gw-")
        self.ssl_context = None
        self.log_path = os.path.join(self.runtime, "serve.log")
        self.log = open(self.log_path, "w+")
        self.process = subprocess.Popen(
            [str(CELLBOX), "serve", "--port", "0", *token_args, "--runtime-dir",
             os.path.join(self.runtime, "run"), "--work-dir", os.path.join(self.runtime, "work"),
             *extra],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, env=env)
        deadline = time.monotonic() + 30
        while not (match := URL_LINE.search(self.logs())):
            assert self.process.poll() is None, "the gateway exited:\n" + self.logs()
            assert time.monotonic() < deadline, "no URL printed:\n" + self.logs()
            time.sleep(0.05)
        self.port = int(match.group(2))
        self.url = f"{match.group(1)}://127.0.0.1:{self.port}"


# Lists its descriptors; writes a forged gateway line (with a newline, a carriage return and a
# terminal escape) to every file, pipe or terminal among them, directly and reopened through
# /proc/self/fd; reads whatever it can reopen for reading; truncates what it can.
ATTACK = r'''
import json, os, stat

MARK = %(mark)r
forged = ("\nts=2026-01-01T00:00:00.000000Z level=info msg=\"listening\" forged=" + MARK +
          "\r\x1b[2J\n").encode()
report = {"fds": {}, "read": "", "written": 0, "truncated": []}
for name in os.listdir("/proc/self/fd"):
    fd = int(name)
    try:
        st = os.fstat(fd)
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        continue
    report["fds"][fd] = [st.st_dev, st.st_ino, target]
    if fd == 0 or not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode)
                       or stat.S_ISCHR(st.st_mode)):
        continue
    try:
        report["written"] += os.write(fd, forged)
    except OSError:
        pass
    try:
        again = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK)
        report["written"] += os.write(again, forged)
        os.close(again)
    except OSError:
        pass
    try:
        mine = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_NONBLOCK)
        report["read"] += os.read(mine, 1 << 20).decode(errors="replace")
        os.close(mine)
    except OSError:
        pass
    try:
        os.ftruncate(fd, 0)
        report["truncated"].append(target)
    except OSError:
        pass
print(json.dumps(report))
'''


@pytest.fixture(scope="module", params=sorted(KERNEL_MODES))
def logged(request):
    g, kernelspec = start_gateway_for(request.param, LoggedGateway)
    try:
        before = g.logs()
        mark = "forged-" + os.urandom(6).hex()
        gateway_fds = {os.stat(f"/proc/{g.process.pid}/fd/{fd}")[1:3][::-1] for fd in (1, 2)}
        token = user_token("mallory")
        kernel_id = start_kernel(g, token, kernelspec)
        report = run_json_cell(g, kernel_id, ATTACK % {"mark": mark}, token)
        # Whatever reached the gateway is logged a moment later: wait for the mark.
        deadline = time.monotonic() + 30
        while mark not in g.logs() and time.monotonic() < deadline:
            time.sleep(0.1)
        g.request("DELETE", f"/api/kernels/{kernel_id}")
    except BaseException:
        g.stop()  # a failed set-up leaves no gateway and no kernels behind
        raise
    yield {"gateway": g, "report": report, "mark": mark, "before": before,
           "gateway_fds": gateway_fds}
    g.stop()
    assert g.process.returncode == 0, g.logs()[-3000:]


@pytest.mark.as_cell
def test_a_cell_holds_no_descriptor_on_the_gateways_stdout_or_stderr(logged):
    """A cell lists /proc/self/fd looking for the gateway's log file or terminal."""
    fds = logged["report"]["fds"]
    assert fds, "the cell listed its descriptors"
    shared = {fd: target for fd, (dev, ino, target) in fds.items()
              if (dev, ino) in logged["gateway_fds"]}
    assert shared == {}, f"descriptors on the gateway's stdout/stderr: {shared}"


@pytest.mark.as_cell
def test_a_cell_cannot_forge_a_gateway_log_line(logged):
    """A cell writes a fake "listening" line with newlines and a terminal escape to fd 1, fd 2
    and /proc/self/fd/N."""
    log = logged["gateway"].logs()
    mark = logged["mark"]
    lines = [line for line in log.splitlines() if mark in line]
    assert lines, "the kernel's output is logged (tagged), not lost"
    for line in lines:
        assert GATEWAY_RECORD.match(line) and 'msg="kernel output"' in line, line
        assert not line.startswith("ts=2026-01-01"), f"a forged record: {line}"
    assert "\x1b" not in log and "\r" not in log, "a terminal escape reached the log raw"


@pytest.mark.as_cell
def test_a_cell_cannot_read_or_truncate_the_gateways_log(logged):
    """A cell reopens its descriptors through /proc/self/fd to read the log, and ftruncates
    them."""
    report = logged["report"]
    assert ADMIN_TOKEN not in report["read"], "the cell read the admin token"
    log = logged["gateway"].logs()
    assert log.startswith(logged["before"]), "the log was truncated or rewritten"
    assert "msg=listening" in log


def test_a_log_that_is_not_a_terminal_holds_no_admin_token(logged):
    """Whoever reads the gateway's log file (not a terminal) looks for the admin token."""
    before, log = logged["before"], logged["gateway"].logs()
    assert URL_LINE.search(before), "the URL line is still printed"
    assert ADMIN_TOKEN not in before and ADMIN_TOKEN not in log


def test_a_token_file_keeps_the_admin_token_off_the_command_line_and_environment():
    """A host user reads the gateway's /proc/PID/cmdline and environ for the admin token, which
    came from --token-file (or CELLBOX_TOKEN_FILE)."""
    secret = "file-token-" + os.urandom(8).hex()
    directory = tempfile.mkdtemp(prefix="cellbox-token-")
    path = os.path.join(directory, "token")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(secret + "\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CELLBOX_")}
    for token_args, env in [(("--token-file", path), clean),
                            ((), dict(clean, CELLBOX_TOKEN_FILE=path))]:
        g = LoggedGateway("--pool-size", "0", token_args=token_args, env=env)
        try:
            assert g.request("GET", "/api/kernels", token=secret)[0] == 200
            assert g.request("GET", "/api/kernels", token=ADMIN_TOKEN)[0] == 403
            for name in ("cmdline", "environ"):
                with open(f"/proc/{g.process.pid}/{name}", "rb") as f:
                    assert secret.encode() not in f.read(), name
        finally:
            g.stop()
        assert secret not in g.logs()
