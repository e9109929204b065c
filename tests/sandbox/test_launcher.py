"""cellbox-sandbox's command line: verdicts, exit statuses, --check, policies, cleanup."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import time


from conftest import SANDBOX
from test_escape import sandbox_processes, session_cgroups

DEFAULT_POLICY = (pathlib.Path(__file__).resolve().parents[2] / "share" / "cellbox" / "policies"
                  / "default.toml")


def run(*args, timeout=60, **kwargs):
    read_end, write_end = os.pipe()
    result = subprocess.run([str(SANDBOX), "--verdict-fd", str(write_end), *args],
                            capture_output=True, text=True, timeout=timeout,
                            pass_fds=(write_end,), **kwargs)
    os.close(write_end)
    with os.fdopen(read_end) as verdict:
        text = verdict.read()
    return result, json.loads(text) if text else None


def test_ok_and_exit_codes():
    result, verdict = run("--", "/bin/true")
    assert verdict["verdict"] == "ok" and verdict["exit_code"] == 0 and result.returncode == 0
    result, verdict = run("--", "/usr/bin/python3", "-c", "raise SystemExit(3)")
    assert verdict["verdict"] == "exit" and verdict["exit_code"] == 3 and result.returncode == 3


def test_signal_verdict():
    result, verdict = run("--", "/usr/bin/python3", "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    assert verdict["verdict"] == "signal" and verdict["signal"] == "SIGSEGV"
    assert result.returncode == 128 + signal.SIGSEGV


def test_program_output_passes_through():
    result, verdict = run("--", "/usr/bin/python3", "-c", "import sys; print('out'); print('err', file=sys.stderr)")
    assert result.stdout == "out\n" and result.stderr == "err\n"


def test_missing_program_is_an_internal_error():
    result, verdict = run("--", "/nonexistent/program")
    assert verdict["verdict"] == "internal_error"
    assert "/nonexistent/program" in verdict["message"]
    assert result.returncode == 125


def test_a_failed_setup_step_is_named(tmp_path):
    result, verdict = run("--", "/nonexistent/program")  # the launcher's "program" step
    assert verdict["message"].startswith("program step: ")
    not_executable = tmp_path / "not-executable"
    not_executable.write_text("")
    not_executable.chmod(0o644)
    result, verdict = run("--", str(not_executable))  # inside: the init's "payload" step
    assert verdict["verdict"] == "internal_error" and result.returncode == 125
    assert verdict["message"].startswith("sandbox setup failed: payload step: execute "), verdict


def test_bad_policy_is_rejected(tmp_path):
    policy = tmp_path / "bad.toml"
    policy.write_text("[limits]\nmemory = 'lots'\n")
    result = subprocess.run([str(SANDBOX), "--policy", str(policy), "--", "/bin/true"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "limits.memory" in result.stderr
    policy.write_text("[seccomp]\nallow = ['read', 'no_such_call']\n")
    result, verdict = run("--policy", str(policy), "--", "/bin/true")
    assert verdict["verdict"] == "internal_error" and "no_such_call" in verdict["message"]


def test_check_lists_every_protection():
    result = subprocess.run([str(SANDBOX), "--check"], capture_output=True, text=True)
    assert result.returncode == 0
    for name in ["mount_namespace", "pid_namespace", "network_namespace", "seccomp",
                 "memory_cgroup", "pids_cgroup", "cpu_cgroup", "distinct_uid"]:
        assert f"on   {name}" in result.stdout
    assert "can be met" in result.stdout
    with open("/proc/self/mountinfo") as mounts:
        fast = any(" - cgroup2 " in line and "favordynmods" in line for line in mounts)
    expected = "cgroup migrations are fast" if fast else "may wait for an RCU grace period"
    assert expected in result.stdout


def test_unprivileged_check_and_refusal_without_degraded():
    setpriv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    result = subprocess.run([*setpriv, str(SANDBOX), "--check"], capture_output=True, text=True)
    assert result.returncode == 1
    assert "off  memory_cgroup (required)" in result.stdout
    assert "on   user_namespace" in result.stdout
    result = subprocess.run([*setpriv, str(SANDBOX), "--", "/bin/true"], capture_output=True,
                            text=True)
    assert result.returncode == 125 and "--allow-degraded" in result.stderr


def test_signals_are_forwarded_to_the_program():
    process = subprocess.Popen(
        [str(SANDBOX), "--", "/usr/bin/python3", "-c",
         "import signal, sys, time\n"
         "signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))\n"
         "print('ready', flush=True)\ntime.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ready\n"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 42


def test_killed_launcher_leaves_nothing_behind():
    process = subprocess.Popen([str(SANDBOX), "--", "/usr/bin/python3", "-c",
                                "import os, time\nos.fork(); os.fork()\nprint('ready', flush=True)\ntime.sleep(60)"],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ready\n"
    process.kill()  # SIGKILL: the launcher cannot clean up itself
    process.wait()
    deadline = time.monotonic() + 5
    while sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not sandbox_processes(), "the sandbox died with its launcher"
    run("--", "/bin/true")  # the next launcher removes the abandoned cgroups
    assert not session_cgroups()


def test_limits_from_the_command_line_override_the_policy():
    result, verdict = run("--memory", "96M", "--pids", "16", "--", "/usr/bin/python3", "-c",
                          "print(open('/proc/self/limits').read())")
    assert verdict["verdict"] == "ok"
    result, verdict = run("--memory", "96M", "--", "/usr/bin/python3", "-c",
                          "x = bytearray(200 * 2**20)")
    assert verdict["verdict"] == "oom"
    assert verdict["peak_memory_bytes"] <= 96 * 2**20


SCHEDULING_PROBE = """
import json, os, threading
policies = {"payload": os.sched_getscheduler(0)}
def in_thread():
    policies["thread"] = os.sched_getscheduler(threading.get_native_id())
thread = threading.Thread(target=in_thread)
thread.start()
thread.join()
child = os.fork()
if child == 0:
    os._exit(os.sched_getscheduler(0))
policies["child"] = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
print(json.dumps(policies))
"""


def test_the_policy_schedules_the_payload_as_batch_or_normal(tmp_path):
    # The default policy's SCHED_BATCH reaches the payload, its threads and its children;
    # the launcher keeps its own. A policy saying "normal" leaves the payload as SCHED_OTHER.
    process = subprocess.Popen([str(SANDBOX), "--", "/usr/bin/python3", "-c",
                                "import sys, time\nprint('ready', flush=True)\n"
                                "sys.stdin.read()\n" + SCHEDULING_PROBE],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ready\n"
    assert os.sched_getscheduler(process.pid) == os.SCHED_OTHER
    output, _ = process.communicate("", timeout=60)
    assert json.loads(output) == {"payload": os.SCHED_BATCH, "thread": os.SCHED_BATCH,
                                  "child": os.SCHED_BATCH}
    default = DEFAULT_POLICY.read_text()
    assert '\nscheduling = "batch"\n' in default
    normal = tmp_path / "normal.toml"
    normal.write_text(default.replace('\nscheduling = "batch"\n', '\nscheduling = "normal"\n'))
    result, verdict = run("--policy", str(normal), "--", "/usr/bin/python3", "-c",
                          SCHEDULING_PROBE)
    assert verdict["verdict"] == "ok", verdict
    assert json.loads(result.stdout) == {"payload": os.SCHED_OTHER, "thread": os.SCHED_OTHER,
                                         "child": os.SCHED_OTHER}


def test_signal_to_the_process_group_arrives_once():
    # jupyter_client interrupts with killpg() on the launcher's group: the program must see one
    # SIGINT, forwarded by the launcher, not a second one through the sandbox's init.
    process = subprocess.Popen(
        [str(SANDBOX), "--", "/usr/bin/python3", "-c",
         "import signal, time\ncount = 0\n"
         "def on_sigint(*args):\n    global count\n    count += 1\n"
         "signal.signal(signal.SIGINT, on_sigint)\n"
         "print('ready', flush=True)\ntime.sleep(1)\ntime.sleep(0.5)\nprint(count)"],
        stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert process.stdout.readline() == "ready\n"
    os.killpg(process.pid, signal.SIGINT)
    assert process.stdout.readline() == "1\n"
    assert process.wait(timeout=10) == 0


def late_bound(script, *options):
    """Starts `sh -c script` in a sandbox bound later over a socket pair; returns the process
    and the owner's end of the link."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [str(SANDBOX), "--uid", "100777", "--verdict-fd", str(write_end), "--late-binding-fd",
         str(theirs.fileno()), *options, "--", "/bin/sh", "-c", script],
        pass_fds=(theirs.fileno(), write_end), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True)
    theirs.close()
    os.close(write_end)
    process.verdict = os.fdopen(read_end)
    return process, ours


def test_late_binding_mounts_the_users_directory_where_the_program_works(tmp_path):
    user_dir = tmp_path / "alice"
    user_dir.mkdir()
    (user_dir / "notes.txt").write_text("hers")
    os.chown(user_dir, 200555, 200555)
    os.chown(user_dir / "notes.txt", 200555, 200555)
    process, link = late_bound(
        "echo before $(pwd) $(ls | wc -l); while [ ! -e notes.txt ]; do sleep 0.01; done; "
        "echo after $(pwd) $(cat notes.txt) $(stat -c %u notes.txt) $(id -u); echo new > made; "
        "ls -A /proc/self/fd | wc -l",
        "--memory", "1G")
    assert process.stdout.readline() == "before /work 0\n", "nothing at /work until bound"
    link.send(json.dumps({"workdir": str(user_dir), "owner_uid": 200555,
                          "memory": "200M"}).encode())
    assert json.loads(link.recv(4096)) == {"ok": True}
    assert process.stdout.readline() == "after /work hers 100777 100777\n", \
        "the program's working directory followed onto the user's files, shown as its own"
    assert int(process.stdout.readline()) == 4, "stdio and ls's own directory: no link inside"
    assert process.wait(timeout=30) == 0
    assert os.stat(user_dir / "made").st_uid == 200555, "created on disk as the user"
    assert json.loads(process.verdict.read())["verdict"] == "ok"


def test_late_binding_lowers_the_memory_limit():
    process, link = late_bound(
        "read go; exec /usr/bin/python3 -c \"x = b'x' * (300 * 2**20)\"",
        "--memory", "1G")
    link.send(json.dumps({"memory": "128M"}).encode())
    assert json.loads(link.recv(4096)) == {"ok": True}
    process.stdin.write("go\n")  # allocate only now, under the new limit
    process.stdin.close()
    process.wait(timeout=60)
    verdict = json.loads(process.verdict.read())
    assert verdict["verdict"] == "oom" and verdict["peak_memory_bytes"] <= 128 * 2**20, verdict


def test_late_binding_refuses_bad_requests_and_ends_with_its_owner():
    process, link = late_bound("sleep 60")
    for request, error in [(b"not json", "parse"), (b'{"workdir": "relative"}', "absolute"),
                           (b'{"owner_uid": 5, "workdir": "/tmp"}', "owner_uid"),
                           (b'{"memory": "lots"}', "size such as")]:
        link.send(request)
        answer = json.loads(link.recv(4096))
        assert answer["ok"] is False and error in answer["error"], (request, answer)
    link.close()  # the owner went away: nobody may use or stop the session any more
    assert process.wait(timeout=10) != 0
    assert "owner went away" in process.verdict.read()


def test_late_binding_fd_must_be_a_seqpacket_socket():
    read_end, write_end = os.pipe()
    result = subprocess.run([str(SANDBOX), "--late-binding-fd", str(read_end), "--", "/bin/true"],
                            pass_fds=(read_end,), capture_output=True, text=True)
    os.close(read_end)
    os.close(write_end)
    assert result.returncode == 2 and "SOCK_SEQPACKET" in result.stderr


def test_late_binding_moves_only_a_program_still_in_work(tmp_path):
    # The init moves the program it shares its working directory with only if that is still
    # the /work it started in: a program that went elsewhere (and changed the shared umask)
    # stays there, and the user's directory is mounted all the same.
    user_dir = tmp_path / "bob"
    user_dir.mkdir()
    (user_dir / "notes.txt").write_text("his")
    process, link = late_bound(
        "cd /tmp && umask 000 && echo left; while [ ! -e /work/notes.txt ]; do sleep 0.01; "
        "done; pwd; ls /work")
    assert process.stdout.readline() == "left\n"
    link.send(json.dumps({"workdir": str(user_dir)}).encode())
    assert json.loads(link.recv(4096)) == {"ok": True}
    assert process.stdout.readline() == "/tmp\n"
    assert process.stdout.readline() == "notes.txt\n"
    assert process.wait(timeout=30) == 0
