"""Shutdown with a warm pool: SIGTERM stops the zygote, every pooled and handed-out session and
their cgroups. In a module of its own, so that no other gateway of this suite is running (its
pool would create cgroups while this one is checked)."""

import glob
import os
import subprocess
import time

from conftest import Gateway
from test_kernel_death import run_cells, stdout
from test_pool import wait_for_pool


def session_cgroups():
    """The sandbox's per-session cgroups wherever this host keeps them: under each cgroup v1
    controller, or in the cgroup v2 tree (root or unified/ on a hybrid host)."""
    found = set()
    for root in glob.glob("/sys/fs/cgroup/cellbox") + glob.glob("/sys/fs/cgroup/*/cellbox"):
        found |= {os.path.join(root, d) for d in os.listdir(root)
                  if os.path.isdir(os.path.join(root, d))}
    return found


def test_sigterm_with_a_pool_leaves_nothing():
    before = session_cgroups()
    g = Gateway("--pool-size", "2")
    wait_for_pool(g)
    ids = [g.request("POST", "/api/kernels", {})[1]["id"] for _ in range(2)]
    assert stdout(run_cells(g, ids[0], ["print(2)"])[0][1]) == "2\n"
    # Looked for where this host keeps them: the running sessions' cgroups are seen.
    assert session_cgroups() - before, "no session cgroup found while sessions run"
    g.stop()
    assert g.process.returncode == 0, g.logs()
    time.sleep(0.5)
    ps = subprocess.run(["ps", "-eo", "pid=,stat=,args="], capture_output=True, text=True).stdout
    left = [line for line in ps.splitlines() if g.runtime in line and " Z" not in line]
    assert not left, f"left running: {left}"
    run = os.path.join(g.runtime, "run")
    assert not [d for d in os.listdir(run) if d.startswith(("kernel-", "session-"))]
    deadline = time.monotonic() + 5
    while session_cgroups() - before and time.monotonic() < deadline:
        time.sleep(0.1)  # supervisors remove theirs as their sessions end
    assert not session_cgroups() - before, "session cgroups left behind\n" + g.logs()[-6000:]
