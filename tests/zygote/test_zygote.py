"""Zygote sessions: kernels forked from a warm interpreter, each in its own sandbox.

Every test drives a real zygote (cellbox-kernel --zygote) over its control socket and real
kernels over ZeroMQ with jupyter_client.
"""

import json
import os
import pathlib
import re
import signal
import subprocess
import time

import pytest

from zygote_client import Zygote, client_for, execute, value_of, wait_ready


def test_zygote_is_warm_and_single_threaded(zygote):
    assert zygote.hello["warm_modules"] == ["numpy", "pandas", "matplotlib"]
    assert len(os.listdir(f"/proc/{zygote.hello['pid']}/task")) == 1
    fds = os.listdir(f"/proc/{zygote.hello['pid']}/fd")
    assert len(fds) <= 6, fds  # stdio, control connection, signalfd


def test_zygote_writes_nothing_to_the_host_home(zygote):
    # The zygote builds the sessions' IPython shell with the policy's environment, whose
    # HOME (/work) is a host path here: IPython's profile must not land there.
    assert not os.path.exists("/work/.ipython")
    # The IPython profile it builds in /tmp is removed once the shell exists.
    assert not [name for name in os.listdir("/tmp") if name.startswith("cellbox-zygote-ipython-")
                and os.stat(os.path.join("/tmp", name)).st_mtime >= zygote.started - 1]


def huge_pages_unavailable():
    """Why this host cannot fold memory into huge pages (MADV_COLLAPSE), or None."""
    release = tuple(int(n) for n in re.match(r"(\d+)\.(\d+)", os.uname().release).groups())
    if release < (6, 1):
        return f"Linux {os.uname().release} predates MADV_COLLAPSE (6.1)"
    if not pathlib.Path("/sys/kernel/mm/transparent_hugepage").is_dir():
        return "this Linux is built without transparent huge pages"
    return None


def kib_field(path, name):
    for line in open(path):
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {name} in {path}")


def test_the_zygote_folds_its_heap_into_huge_pages(zygote, tmp_path):
    # Every session is three forks of the zygote's memory (supervisor, sandbox init, kernel):
    # in 2 MiB pages, each fork copies one page-table entry where it would copy 512.
    why_not = huge_pages_unavailable()
    if why_not:
        pytest.skip(why_not)
    folded, error = zygote.hello["huge_page_bytes"], zygote.hello["huge_page_error"]
    if folded < 16 << 20 and any(transient in error for transient in (
            "Cannot allocate memory", "Resource temporarily unavailable",
            "Device or resource busy")):
        pytest.skip(f"no free huge pages on this host now: {error}")
    assert folded >= 16 << 20, zygote.hello  # numpy, pandas, matplotlib: ~50 MiB of heap
    pid = zygote.hello["pid"]
    assert kib_field(f"/proc/{pid}/smaps_rollup", "AnonHugePages") * 1024 >= folded // 2
    # A session forked from it: its supervisor, which writes almost none of the heap, maps
    # it in the same huge pages (a fork copied one entry for each).
    answer = zygote.request(
        "spawn", workdir=str(tmp_path), log_file=str(tmp_path / "out.txt"),
        script={"code": "import time; time.sleep(30)", "argv": []})
    assert "pid" in answer, answer
    try:
        supervisor = f"/proc/{answer['pid']}/smaps_rollup"
        assert kib_field(supervisor, "AnonHugePages") * 1024 >= folded // 2
    finally:
        zygote.request("kill", pid=answer["pid"])
        zygote.wait_exit(answer["pid"], timeout=30)


def test_sessions_inherit_the_tokenizer_compiled(zygote, tmp_path):
    # Compiled once in the zygote, tokenize's pattern is every session's without cost. A
    # script session runs no kernel start-up of its own: what it finds is the zygote's.
    log = tmp_path / "out.txt"
    answer = zygote.request(
        "spawn", workdir=str(tmp_path), log_file=str(log),
        script={"code": "import tokenize; print(tokenize._compile.cache_info().currsize)",
                "argv": []})
    assert "pid" in answer, answer
    verdict = zygote.wait_exit(answer["pid"], timeout=60)["verdict"]
    assert verdict["exit_code"] == 0, (verdict, log.read_text())
    assert int(log.read_text().split()[-1]) >= 1, log.read_text()


def test_a_session_starts_clean_after_the_zygotes_rehearsals(kernel):
    # The zygote runs silent cells in the shell every session inherits, so that CPython's
    # specialised bytecode comes with it: none of them may show in a session.
    _, client, _ = kernel()
    reply, outputs = execute(client, "len(In), dict(Out), _, __, _i, _ih[:1]")
    assert reply["status"] == "ok" and reply["execution_count"] == 1, reply
    shown = [m["content"]["data"]["text/plain"] for m in outputs
             if m["msg_type"] == "execute_result"]
    assert shown == ["(2, {}, '', '', '', [''])"], shown
    # The lean shortcuts the zygote applied are the session's, and what they hand back to
    # IPython still works: top-level await, a magic, the input history, the output cache.
    lean_check = value_of(client, "get_ipython().should_run_async.__qualname__")
    assert "_skip_needless_await_check" in lean_check, lean_check
    assert value_of(client, "import asyncio\nawait asyncio.sleep(0, result=7)") == "7"
    assert value_of(client, "%time 6 * 7") == "42"
    assert value_of(client, "_ih[-1]") == "'_ih[-1]'"
    assert value_of(client, "Out[3]") == "7"


def test_shell_escapes_run_in_the_sandbox(kernel):
    # A sandbox has no pseudo-terminals: `!cmd` runs without one (cellbox_kernel.install).
    _, client, _ = kernel()
    reply, outputs = execute(client, "name = 'x'\n!echo from-$name; echo to-stderr >&2; exit 3")
    assert reply["status"] == "ok", reply
    streams = [(m["content"]["name"], m["content"]["text"]) for m in outputs
               if m["msg_type"] == "stream"]
    assert streams == [("stdout", "from-x\n"), ("stderr", "to-stderr\n")], streams
    assert value_of(client, "_exit_code") == "3"
    assert value_of(client, "lines = !ls /\n'bin' in lines") == "True"


def test_execute_with_pandas_already_imported(kernel):
    _, client, _ = kernel()
    assert value_of(client, "6*7") == "42"
    assert value_of(client, "import sys; 'pandas' in sys.modules") == "True"
    reply, outputs = execute(
        client, "import time; t = time.perf_counter(); import pandas as pd, numpy as np\n"
        "elapsed = time.perf_counter() - t; pd.DataFrame({'a': np.arange(3)}).a.sum()")
    assert reply["status"] == "ok", reply
    assert [m["content"]["data"]["text/plain"] for m in outputs
            if m["msg_type"] == "execute_result"] == ["3"]
    assert float(value_of(client, "elapsed")) < 0.01


def test_session_is_confined(kernel):
    _, client, _ = kernel()
    facts = json.loads(value_of(client, (
        "import json, os; json.dumps([os.getuid(), os.getcwd(), os.getpid(),"
        " open('/proc/self/status').read().split('CapEff:')[1].split()[0],"
        " open('/proc/self/status').read().split('Seccomp:')[1].split()[0]])")).strip("'"))
    uid, cwd, pid, caps, seccomp = facts
    assert uid >= 100000 and cwd == "/work" and pid == 2
    assert int(caps, 16) == 0 and seccomp == "2"
    reply, _ = execute(client, "import socket; socket.socket(socket.AF_INET)")
    assert reply["status"] == "error"


def test_session_is_scheduled_as_batch_and_its_supervisor_is_not(zygote, kernel):
    # The policy's scheduling (batch): every thread of the session's kernel, the ones it
    # started after the fork included. The zygote and the session's supervisor, which end
    # cells and report verdicts, keep the host's normal scheduling.
    pid, client, _ = kernel()
    policies = json.loads(value_of(client, (
        "import json, os; json.dumps([os.sched_getscheduler(int(t))"
        " for t in os.listdir('/proc/self/task')])")).strip("'"))
    assert len(policies) >= 2, policies  # the interpreter and ZeroMQ's I/O thread at least
    assert set(policies) == {os.SCHED_BATCH}, policies
    assert os.sched_getscheduler(zygote.hello["pid"]) == os.SCHED_OTHER
    assert os.sched_getscheduler(pid) == os.SCHED_OTHER


def test_matplotlib_figure_is_inline_png(kernel):
    _, client, _ = kernel()
    _, outputs = execute(client, "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])")
    assert any("image/png" in m["content"].get("data", {}) for m in outputs
               if m["msg_type"] == "display_data"), [m["msg_type"] for m in outputs]


def test_nothing_of_one_session_reaches_the_next(kernel):
    _, a, _ = kernel()
    reply, _ = execute(a, (
        "import os, threading, time, random, numpy\n"
        "secret = 'session A'\n"
        "open('/tmp/x', 'w').write('A was here')\n"
        "threading.Thread(target=time.sleep, args=(600,), name='A-thread', daemon=True).start()\n"
        "held = open('/work/held-by-a', 'w')\n"
        "os.environ['X'] = 'from A'\n"
        "import sys; sys.modules['a_marker'] = sys\n"
        "get_ipython().ast_transformers.append(object())\n"
        "get_ipython().alias_manager.define_alias('a_alias', 'true')\n"
        "draws = (random.random(), numpy.random.random())"))
    assert reply["status"] == "ok", reply
    assert value_of(a, "any(t.name == 'A-thread' for t in threading.enumerate())") == "True"

    _, b, _ = kernel()  # A is still running
    checks = {
        "variable": "'secret' in globals()",
        "tmp file": "import os; os.path.exists('/tmp/x')",
        "thread": "import threading; any(t.name == 'A-thread' for t in threading.enumerate())",
        "env": "'X' in os.environ",
        "module": "import sys; 'a_marker' in sys.modules",
        # The IPython shell is built once, in the zygote: each session changes its own copy.
        "shell": "len(get_ipython().ast_transformers) > 0",
        "alias": "get_ipython().alias_manager.is_alias('a_alias')",
        "fd": "any(os.readlink(f'/proc/self/fd/{fd}').endswith('held-by-a')"
              " for fd in os.listdir('/proc/self/fd') if os.path.exists(f'/proc/self/fd/{fd}'))",
    }
    for what, code in checks.items():
        assert value_of(b, code) == "False", what
    # B's descriptors are its own sockets, pipes and event fds (ZeroMQ, output capture) and
    # stdio: no file of anyone else's.
    b_targets = json.loads(value_of(b, (
        "import json; json.dumps([os.readlink(f'/proc/self/fd/{fd}')"
        " for fd in os.listdir('/proc/self/fd') if os.path.exists(f'/proc/self/fd/{fd}')])"))
        .strip("'"))
    foreign = [t for t in b_targets if t.split(":")[0] not in ("socket", "pipe", "anon_inode")
               and t != "/dev/null" and not t.startswith(("/proc/", "/tmp/#"))]  # own O_TMPFILEs
    assert not foreign, b_targets
    assert int(value_of(b, "import threading; threading.active_count()")) == 1
    b_draws = value_of(b, "import random, numpy; (random.random(), numpy.random.random())")
    a_draws = value_of(a, "draws")
    assert a_draws != b_draws  # the generators were reseeded, not copied from the zygote


def test_hmac_keys_are_per_session(zygote, kernel):
    _, a, a_dirs = kernel()
    _, b, b_dirs = kernel()
    a_key = json.loads(pathlib.Path(a_dirs["connection_file"]).read_text())["key"]
    b_connection = json.loads(pathlib.Path(b_dirs["connection_file"]).read_text())
    assert a_key != b_connection["key"]
    forged = pathlib.Path(zygote.root) / "forged.json"
    forged.write_text(json.dumps({**b_connection, "key": a_key}))
    intruder = client_for(str(forged))
    try:
        with pytest.raises(Exception):
            intruder.kernel_info(reply=True, timeout=2)  # B drops messages signed with A's key
    finally:
        intruder.stop_channels()
    assert value_of(b, "1+1") == "2"


def test_a_crash_leaves_the_zygote_and_other_sessions_working(zygote, kernel):
    _, survivor, _ = kernel()
    value_of(survivor, "survivor = 1")
    for code, expected in [("import os; os._exit(3)", {"verdict": "exit", "exit_code": 3}),
                           ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
                            {"verdict": "signal", "signal": "SIGKILL"})]:
        pid, victim, _ = kernel()
        victim.execute(code)
        event = zygote.wait_exit(pid)
        for key, value in expected.items():
            assert event["verdict"][key] == value, event
    assert value_of(survivor, "survivor + 1") == "2"
    _, newcomer, _ = kernel()
    assert value_of(newcomer, "'survivor' in globals()") == "False"


def test_memory_limit_gives_an_oom_verdict(zygote, kernel):
    pid, client, _ = kernel(memory="256M")
    client.execute("blocks = [bytearray(64 << 20) for _ in range(16)]")
    event = zygote.wait_exit(pid)
    assert event["verdict"]["verdict"] == "oom", event


def test_sigint_to_the_supervisor_interrupts_the_cell(kernel):
    pid, client, _ = kernel()
    msg_id = client.execute("import time; time.sleep(20)")
    time.sleep(0.5)
    os.kill(pid, signal.SIGINT)
    reply = client.get_shell_msg(timeout=10)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert value_of(client, "1+1") == "2"


def test_late_binding_mounts_the_workdir_at_hand_out(zygote, kernel):
    pid, client, _ = kernel(deferred_workdir=True, memory="512M")
    workdir = pathlib.Path(zygote.root) / "late-work"
    workdir.mkdir()
    (workdir / "data.txt").write_text("user data")
    answer = zygote.request("go", pid=pid, workdir=str(workdir), memory="768M")
    assert answer.get("ok") is True, answer
    assert value_of(client, "open('data.txt').read()") == "'user data'"
    value_of(client, "open('/work/out.txt', 'w').write('from the session')")
    assert (workdir / "out.txt").read_text() == "from the session"
    assert zygote.request("go", pid=pid, workdir="relative")["error"]
    bad = zygote.request("go", pid=pid, workdir="/nonexistent-cellbox-dir")
    assert bad["ok"] is False and "nonexistent" in bad["error"]


def test_bad_requests_are_answered_with_errors(zygote):
    assert "unknown op" in zygote.request("fly")["error"]
    assert "ipc_dir" in zygote.request("spawn", connection_file="/tmp/x.json")["error"]
    assert "no session" in zygote.request("go", pid=1, workdir="/tmp")["error"]


def test_zygote_and_sessions_die_with_the_control_connection():
    z = Zygote(warm_modules="")
    pid, dirs = z.spawn_kernel()
    client = client_for(dirs["connection_file"])
    wait_ready(client)
    client.stop_channels()
    zygote_pid = z.hello["pid"]
    z.disconnect()
    z.process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}"), "the session's supervisor outlived the zygote"
    leftover = subprocess.run(["ps", "-eo", "uid=,pid="], capture_output=True, text=True).stdout
    assert not [l for l in leftover.splitlines() if int(l.split()[0]) >= 100000
                and int(l.split()[1]) != zygote_pid]
    z.close()
