"""Instant sessions through the gateway: kernels handed out from the zygote's pool, nothing of
one session visible to the next, a crashed zygote restarted, shutdown leaving nothing."""

import os
import re
import signal
import subprocess
import time

import pytest

from conftest import Gateway
from test_kernel_death import run_cells, stdout, wait_for_state


def metric(gateway, name, labels=""):
    text = gateway.request_text("/metrics")
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


def wait_for_pool(gateway, ready=2, seconds=60):
    deadline = time.monotonic() + seconds
    while (metric(gateway, "cellbox_pool_ready_sessions", '{kernelspec="cellbox-python"}') or 0) < ready:
        assert time.monotonic() < deadline, "the pool did not fill"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def gateway():
    g = Gateway("--pool-size", "2")
    wait_for_pool(g)
    yield g
    g.stop()


def test_kernels_come_from_the_pool_warm(gateway):
    hits = metric(gateway, "cellbox_pool_takes_total", '{result="hit"}')
    kid = gateway.request("POST", "/api/kernels", {})[1]["id"]
    assert metric(gateway, "cellbox_pool_takes_total", '{result="hit"}') == hits + 1
    results = run_cells(gateway, kid, [
        "import sys\nprint(sorted(m for m in ('numpy', 'pandas', 'matplotlib') if m in sys.modules))",
        "import pandas as pd\npd.DataFrame({'a': [1, 2]}).describe()"])
    assert stdout(results[0][1]) == "['matplotlib', 'numpy', 'pandas']\n"
    shown = [o for o in results[1][1] if o["msg_type"] == "execute_result"]
    assert shown and "text/html" in shown[0]["content"]["data"]
    assert "count" in shown[0]["content"]["data"]["text/plain"]
    gateway.request("DELETE", f"/api/kernels/{kid}")
    wait_for_pool(gateway)  # refilled in the background


def test_the_log_says_how_much_of_the_zygote_is_in_huge_pages(gateway):
    # How much of its heap the zygote folded into huge pages (its forks are cheaper), or why it
    # folded nothing (tests/zygote checks the fold itself).
    assert gateway.wait_for_log('msg="zygote ready"')
    line = next(l for l in gateway.logs().splitlines() if 'msg="zygote ready"' in l)
    folded = int(re.search(r" heap_in_huge_pages_mib=(\d+)", line).group(1))
    assert folded > 0 or not re.search(r' huge_pages_error=(""|$)', line), line


def test_nothing_of_one_session_reaches_the_next(gateway):
    first = gateway.request("POST", "/api/kernels", {})[1]["id"]
    results = run_cells(gateway, first, [
        "import os, threading, time\n"
        "secret = 'mine'\n"
        "open('/tmp/left-behind', 'w').write('x')\n"
        "threading.Thread(target=time.sleep, args=(600,), name='lingering', daemon=True).start()\n"
        "kept = open('/tmp/left-behind')\n"
        "os.environ['LEAK'] = '1'\n"
        "print(os.getpid(), len(os.listdir('/proc/self/fd')))"])
    first_fds = int(stdout(results[0][1]).split()[1])
    gateway.request("DELETE", f"/api/kernels/{first}")
    second = gateway.request("POST", "/api/kernels", {})[1]["id"]
    results = run_cells(gateway, second, [
        "import os, threading\n"
        "print('secret' in globals(), os.path.exists('/tmp/left-behind'), "
        "[t.name for t in threading.enumerate() if t.name == 'lingering'], "
        "'LEAK' in os.environ, len(os.listdir('/proc/self/fd')))"])
    flags = stdout(results[0][1]).split()
    assert flags[:5] == ["False", "False", "[]", "False", flags[4]]
    assert int(flags[4]) < first_fds, "the open file did not follow"
    gateway.request("DELETE", f"/api/kernels/{second}")


def test_sessions_get_their_own_key_and_directory(gateway):
    a = gateway.request("POST", "/api/kernels", {})[1]["id"]
    b = gateway.request("POST", "/api/kernels", {})[1]["id"]
    run = os.path.join(gateway.runtime, "run")
    sessions = [d for d in os.listdir(run) if d.startswith("session-")]
    keys = set()
    import json
    for d in sessions:
        path = os.path.join(run, d, "ipc", "kernel.json")
        if os.path.exists(path):
            keys.add(json.load(open(path))["key"])
    assert len(keys) == len(sessions) >= 2, "every session has its own HMAC key"
    for k in (a, b):
        gateway.request("DELETE", f"/api/kernels/{k}")


def test_a_crashed_zygote_is_restarted_and_its_kernels_explained(gateway):
    kid = gateway.request("POST", "/api/kernels", {})[1]["id"]
    run_cells(gateway, kid, ["x = 1"])
    # The zygote is the gateway's child (its sessions, forked from it, share its command line).
    zygotes = subprocess.run(["pgrep", "-P", str(gateway.process.pid), "-f", "zygote"],
                             capture_output=True, text=True).stdout.split()
    assert len(zygotes) == 1
    os.kill(int(zygotes[0]), signal.SIGKILL)
    deadline = time.monotonic() + 30
    while "reason" not in gateway.request("GET", f"/api/kernels/{kid}")[1]:
        assert time.monotonic() < deadline, "the kernel's death went unnoticed"
        time.sleep(0.05)
    model = wait_for_state(gateway, kid, "idle")
    assert "variables were lost" in model["reason"]
    assert stdout(run_cells(gateway, kid, ["print('x' in globals())"])[0][1]) == "False\n"
    wait_for_pool(gateway)  # a new zygote, a new pool
    assert gateway.wait_for_log("zygote lost, restarting it")
    gateway.request("DELETE", f"/api/kernels/{kid}")


def test_pool_size_zero_launches_through_the_sandbox():
    g = Gateway("--pool-size", "0")
    try:
        kid = g.request("POST", "/api/kernels", {})[1]["id"]
        assert stdout(run_cells(g, kid, ["print(1)"])[0][1]) == "1\n"
        assert "zygote" not in g.logs()
    finally:
        g.stop()


def test_cold_forks_lose_no_output():
    """A session forked on demand answers fast: its first outputs must not be published before
    the gateway's iopub subscription is up (they were lost about one time in five)."""
    g = Gateway("--pool-size", "1")
    try:
        wait_for_pool(g, ready=1)
        kernels = []
        for i in range(8):
            kernels.append(g.request("POST", "/api/kernels", {})[1]["id"])  # empties the pool
        misses = metric(g, "cellbox_pool_takes_total", '{result="miss"}')
        assert misses >= 3, "several of these were forked on demand"
        for i, kid in enumerate(kernels):
            results = run_cells(g, kid, [f"print({i})", "1+1"])
            assert stdout(results[0][1]) == f"{i}\n"
            shown = [o for o in results[1][1] if o["msg_type"] == "execute_result"]
            assert shown and shown[0]["content"]["data"]["text/plain"] == "2"
    finally:
        g.stop()
