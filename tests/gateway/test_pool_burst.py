"""The zygote pool grows after a burst of starts and shrinks back when idle (by what the status
API and the metrics say, not by timing), and a burst leaves no kernel nor process behind."""

import os
import re
import subprocess
import time

import pytest

from conftest import Gateway

POOL_MAX = 4
WINDOW_S = 10  # long enough for the grown pool to refill on a loaded machine


def pool(gateway, kernelspec="cellbox-python"):
    body = gateway.request("GET", "/api/status")[1]
    return next(p for p in body["pools"] if p["kernelspec"] == kernelspec)


def metric(gateway, name):
    text = gateway.request_text("/metrics")
    match = re.search(rf'^{name}{{kernelspec="cellbox-python"}} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else None


def wait_for(gateway, what, check, seconds=90, kernelspec="cellbox-python"):
    """The pool of `kernelspec` once `check` holds for it (the status API polled)."""
    deadline = time.monotonic() + seconds
    while not check(pool(gateway, kernelspec)):
        assert time.monotonic() < deadline, f"{what}: {pool(gateway, kernelspec)}"
        time.sleep(0.1)
    return pool(gateway, kernelspec)


def sessions_of(gateway):
    """The zygote's children (one supervisor per session) and the sessions' directories."""
    zygote = subprocess.run(["pgrep", "-P", str(gateway.process.pid), "-f", "zygote"],
                            capture_output=True, text=True).stdout.split()
    assert len(zygote) == 1, zygote
    children = subprocess.run(["pgrep", "-P", zygote[0]], capture_output=True,
                              text=True).stdout.split()
    run = os.path.join(gateway.runtime, "run")
    return len(children), len([d for d in os.listdir(run) if d.startswith("session-")])


def available_gib():
    for line in open("/proc/meminfo"):
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 2**20
    return 0


def test_a_burst_grows_the_pool_which_shrinks_back_when_idle():
    if available_gib() < POOL_MAX * 2 + 1:
        pytest.skip(f"{available_gib():.1f} GiB available: the pool may not grow past "
                    f"its memory bound ({POOL_MAX} sessions of 1 GiB and their kernels)")
    g = Gateway("--pool-size", "1", "--pool-max", str(POOL_MAX),
                "--pool-window", str(WINDOW_S), "--launch-pool-size", "0")
    try:
        before = wait_for(g, "the pool did not fill", lambda p: p["ready"] == 1)
        assert (before["size"], before["target"], before["max"]) == (1, 1, POOL_MAX)
        hits = float(re.search(r'^cellbox_pool_takes_total{result="hit"} (\S+)$',
                               g.request_text("/metrics"), re.MULTILINE).group(1))
        kernels = [g.request("POST", "/api/kernels", {})[1]["id"] for _ in range(POOL_MAX + 1)]
        grown = wait_for(g, "the pool did not grow to the burst",
                         lambda p: p["target"] == POOL_MAX and p["ready"] == POOL_MAX)
        assert metric(g, "cellbox_pool_target_sessions") == POOL_MAX
        assert metric(g, "cellbox_pool_ready_sessions") == POOL_MAX
        # The next burst of that size is served from the pool.
        more = [g.request("POST", "/api/kernels", {})[1]["id"] for _ in range(POOL_MAX)]
        after = float(re.search(r'^cellbox_pool_takes_total{result="hit"} (\S+)$',
                                g.request_text("/metrics"), re.MULTILINE).group(1))
        assert after - hits >= POOL_MAX + 1, "a pool of 1, then a grown one: 1 + 4 hits"
        for kid in kernels + more:
            assert g.request("DELETE", f"/api/kernels/{kid}")[0] == 204
        assert g.request("GET", "/api/kernels")[1] == []
        shrunk = wait_for(g, "the pool did not shrink back when idle",
                          lambda p: p["target"] == 1 and p["ready"] == 1)
        assert metric(g, "cellbox_pool_target_sessions") == 1
        assert grown["max"] == shrunk["max"] == POOL_MAX
        # Nothing left of the burst: one supervisor and one directory, the pooled session's.
        deadline = time.monotonic() + 30
        while sessions_of(g) != (1, 1):
            assert time.monotonic() < deadline, f"left behind: {sessions_of(g)}"
            time.sleep(0.2)
        assert g.wait_for_log("pool target")
    finally:
        g.stop()


def test_a_fixed_pool_does_not_grow():
    g = Gateway("--pool-size", "1", "--pool-max", "1", "--launch-pool-size", "0")
    try:
        wait_for(g, "the pool did not fill", lambda p: p["ready"] == 1)
        kernels = [g.request("POST", "/api/kernels", {})[1]["id"] for _ in range(3)]
        wait_for(g, "the pool did not refill", lambda p: p["ready"] == 1)
        assert pool(g)["target"] == 1 and metric(g, "cellbox_pool_target_sessions") == 1
        for kid in kernels:
            g.request("DELETE", f"/api/kernels/{kid}")
    finally:
        g.stop()
