"""The escape suite: hostile programs run under cellbox-sandbox with the default policy.

Each probe in probes/ is a short program that tries one way out and prints BLOCKED or ESCAPED
per attempt; its docstring names the expected verdict (and limits, when it needs some). The
suite checks the verdict, that nothing escaped, and that the host is unchanged afterwards.
"""

import json
import os
import pathlib
import pwd
import re
import socket
import subprocess
import tempfile
import threading
import time
import types

import pytest

import host_facts
from conftest import ESCAPE_TABLE, SANDBOX

PROBES = sorted(p for p in (pathlib.Path(__file__).parent / "probes").glob("[0-9]*.py"))
PRELUDE = (pathlib.Path(__file__).parent / "probes" / "_prelude.py").read_text()

# Probes that also run with the launcher unprivileged (as nobody, through a user namespace,
# without cgroups: --allow-degraded).
UNPRIVILEGED = {"01", "02", "04", "06", "09", "12", "14", "24", "25", "29", "30", "31", "33",
                "34", "35", "36", "45", "47"}


def probe_spec(path):
    """The probe's expectation on this host: its docstring's, adapted where the docstring says
    it depends on the host (host_facts.expected_verdict)."""
    doc = path.read_text().split('"""')[1]
    declared = re.search(r"expect: (\w+)", doc).group(1)
    expect, expect_signal, why = host_facts.expected_verdict(path.name, declared)
    limits = re.search(r"limits: (.+)$", doc, re.M)
    return {"expect": expect, "expect_signal": expect_signal, "host_note": why,
            "pids_limit_hit": "pids_limit_hit" in doc,
            "limits": limits.group(1).split() if limits else []}


class Host:
    """What the probes aim at on the host, and how to tell it is unchanged."""

    def __init__(self):
        self.other_session = tempfile.mkdtemp(prefix="cellbox-other-session-")
        pathlib.Path(self.other_session, "secret.txt").write_text("other user's data")
        self.connections = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        self.abstract_name = f"cellbox-escape-{os.getpid()}"
        self.abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.abstract.bind("\0" + self.abstract_name)
        self.abstract.listen()
        threading.Thread(target=self._accept_abstract, daemon=True).start()
        self.sentinel = subprocess.Popen(["sleep", "3600"])
        self.hostname = socket.gethostname()
        self.root_listing = sorted(os.listdir("/root")) if os.access("/root", os.R_OK) else None

    def _accept(self):
        while True:
            connection, _ = self.listener.accept()
            self.connections.append(("tcp", connection))

    def _accept_abstract(self):
        while True:
            connection, _ = self.abstract.accept()
            self.connections.append(("abstract", connection))

    def arguments(self, probe_name):
        return {"03": [self.other_session], "11": [str(self.port)],
                "12": [self.abstract_name], "17": [str(self.sentinel.pid)]}.get(probe_name[:2], [])

    def problems(self):
        """Every way the host differs from before; empty when unchanged."""
        found = []
        if self.sentinel.poll() is not None:
            found.append("the host sentinel process was killed")
        if self.connections:
            found.append(f"host listeners got connections: {[c[0] for c in self.connections]}")
        if socket.gethostname() != self.hostname:
            found.append("the host name changed")
        if pathlib.Path(self.other_session, "secret.txt").read_text() != "other user's data":
            found.append("another session's file changed")
        if self.root_listing is not None and sorted(os.listdir("/root")) != self.root_listing:
            found.append("/root changed")
        for path in ["/evil", "/etc/evil", "/usr/bin/evil", "/lib/evil"]:
            if os.path.exists(path):
                found.append(f"{path} was created")
        leftover = sandbox_processes()
        if leftover:
            found.append(f"sandbox processes left behind: {leftover}")
        cgroups = session_cgroups()
        if cgroups:
            found.append(f"session cgroups left behind: {cgroups}")
        return found

    def close(self):
        self.sentinel.kill()
        self.sentinel.wait()


def sandbox_processes():
    """Processes of sandbox uids (>= 100000) or of nobody still running on the host."""
    nobody = pwd.getpwnam("nobody").pw_uid
    result = subprocess.run(["ps", "-eo", "uid=,pid=,comm="], capture_output=True, text=True)
    rows = [line.split(None, 2) for line in result.stdout.splitlines()]
    return [row for row in rows if int(row[0]) >= 100000 or int(row[0]) == nobody]


def session_cgroups():
    """Session cgroups (named s<launcher pid>-<n>) whose launcher has exited: leaks. Those of
    launchers still running (another suite, a benchmark) are theirs to remove."""
    found = []
    for base in host_facts.session_cgroup_bases():
        for session in base.iterdir():
            match = re.fullmatch(r"s(\d+)-\d+", session.name)
            if session.is_dir() and (not match or not os.path.exists(f"/proc/{match.group(1)}")):
                found.append(str(session))
    return found


def wait_until_clean(host, seconds=5):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and host.problems():
        time.sleep(0.05)
    return host.problems()


@pytest.fixture(scope="module")
def host():
    h = Host()
    yield h
    h.close()


def run_probe(probe, host, unprivileged=False):
    spec = probe_spec(probe)
    workdir = tempfile.mkdtemp(prefix="cellbox-probe-work-")
    verdict_file = os.path.join(tempfile.mkdtemp(prefix="cellbox-verdict-"), "verdict.json")
    command = [str(SANDBOX), "--verdict-file", verdict_file, "--workdir", workdir, *spec["limits"]]
    if unprivileged:
        os.chmod(workdir, 0o777)
        os.chmod(os.path.dirname(verdict_file), 0o777)
        command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                   *command, "--allow-degraded"]
    command += ["--", "/usr/bin/python3", "-c", PRELUDE + probe.read_text(),
                *host.arguments(probe.name)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    verdict = json.loads(pathlib.Path(verdict_file).read_text())
    return spec, verdict, result


LATE_OWNER = 200999  # owner on disk of the late-bound sandboxes' work dirs


def run_probe_late_bound(probe, host, unprivileged=False):
    """The probe in a sandbox launched ahead of its user and bound while it runs, as the
    gateway's prespawned kernels are (--late-binding-fd: the user's directory mounted at /work
    as an idmapped mount, the program's working directory moved onto it by the init it shares
    it with). The probe starts once its working directory shows the user's files."""
    assert not unprivileged
    spec = probe_spec(probe)
    workdir = tempfile.mkdtemp(prefix="cellbox-probe-work-")
    marker = pathlib.Path(workdir, ".bound")
    marker.write_text("")
    for path in (workdir, marker):
        os.chown(path, LATE_OWNER, LATE_OWNER)
    verdict_file = os.path.join(tempfile.mkdtemp(prefix="cellbox-verdict-"), "verdict.json")
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    wait = "import os as _os, time as _time\nwhile not _os.path.exists('.bound'):\n" \
           "    _time.sleep(0.005)\n"
    command = [str(SANDBOX), "--verdict-file", verdict_file, "--late-binding-fd",
               str(theirs.fileno()), *spec["limits"], "--", "/usr/bin/python3", "-c",
               wait + PRELUDE + probe.read_text(), *host.arguments(probe.name)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, pass_fds=(theirs.fileno(),))
    theirs.close()
    with ours:
        ours.settimeout(10)
        ours.send(json.dumps({"workdir": workdir, "owner_uid": LATE_OWNER}).encode())
        try:
            answer = ours.recv(4096)
        except OSError as e:
            answer = repr(e).encode()
        if answer[:1] != b"{" or not json.loads(answer).get("ok"):
            process.kill()  # never bound: the probe would wait forever
            process.communicate()
            raise AssertionError(f"binding failed: {answer!r}")
        stdout, stderr = process.communicate(timeout=60)
    verdict = json.loads(pathlib.Path(verdict_file).read_text())
    return spec, verdict, types.SimpleNamespace(stdout=stdout, stderr=stderr)


def check_probe(probe, host, unprivileged=False, run=run_probe):
    """`run(probe, host, unprivileged)` returns (spec, verdict, result with stdout/stderr): the
    launcher by default, or late bound; the zygote suite runs the same probes in pooled
    sessions."""
    spec, verdict, result = run(probe, host, unprivileged)
    blocked = [l for l in result.stdout.splitlines() if l.startswith("BLOCKED")]
    escaped = [l for l in result.stdout.splitlines() if l.startswith("ESCAPED")]
    problems = wait_until_clean(host)
    right_signal = spec["expect_signal"] in (None, verdict.get("signal"))
    passed = (verdict["verdict"] == spec["expect"] and right_signal and not escaped
              and not problems and (blocked or spec["expect"] != "ok" or spec["pids_limit_hit"]))
    user = ("nobody" if unprivileged else "root" if run is run_probe
            else "late" if run is run_probe_late_bound else "zygote")
    ESCAPE_TABLE.append((probe.stem, user, spec["expect"], verdict["verdict"], bool(passed),
                         spec["host_note"]))
    details = (f"verdict={verdict}\nexpected={spec}\nstdout={result.stdout}\n"
               f"stderr={result.stderr[-2000:]}")
    assert not escaped, details
    assert not problems, f"host changed: {problems}\n{details}"
    assert verdict["verdict"] == spec["expect"], details
    assert right_signal, f"expected the host's own {spec['expect_signal']}\n{details}"
    if spec["expect"] == "ok" and not spec["pids_limit_hit"]:
        assert blocked, f"the probe reported nothing\n{details}"
    if spec["pids_limit_hit"] and not unprivileged:
        assert verdict["pids_limit_hit"], details
    return verdict


@pytest.mark.parametrize("probe", PROBES, ids=[p.stem for p in PROBES])
def test_probe_is_contained(probe, host):
    verdict = check_probe(probe, host)
    if probe.stem == "20_memory_bomb":
        assert verdict["wall_ms"] < 1000, "the oom verdict must come within a second"
        assert verdict["signal"] == "SIGKILL"
    # The seccomp verdict names the call (from the kernel's audit record), as root, where the
    # host lets the call reach seccomp at all.
    if probe.stem == "34_x32_syscall" and verdict["verdict"] == "seccomp":
        assert verdict["syscall"] == "getpid (x32 ABI)", verdict
    if probe.stem == "35_int80" and verdict["verdict"] == "seccomp":
        assert verdict["syscall"] == "getpid (i386, int 0x80)", verdict


@pytest.mark.parametrize("probe", PROBES, ids=[p.stem for p in PROBES])
def test_probe_is_contained_late_bound(probe, host):
    check_probe(probe, host, run=run_probe_late_bound)


UNPRIVILEGED_PROBES = [p for p in PROBES if p.name[:2] in UNPRIVILEGED]


@pytest.mark.parametrize("probe", UNPRIVILEGED_PROBES, ids=[p.stem for p in UNPRIVILEGED_PROBES])
def test_probe_is_contained_unprivileged(probe, host):
    check_probe(probe, host, unprivileged=True)


def test_there_are_at_least_forty_probes():
    assert len(PROBES) >= 40
