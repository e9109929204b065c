#!/usr/bin/python3
"""Hibernate and resume latency and image size for sessions holding ~1, 100 and 1000 MiB of
numpy or pandas state (issue 16), against E2B's published pause (~4 s/GiB) and resume (~1 s).

- hibernate: POST /api/kernels/{id}/hibernate to its answer (the kernel pickles its namespace
  into its exchange directory, the gateway copies the image into the state directory, fsync,
  and stops the process);
- resume: the first cell after it (`float(a[:3].sum())`) to its answer: a pooled session
  taken, the image handed over (a read-only descriptor of the store's file when the gateway
  runs as root, else a copy), mapped and restored, the cell run;
- pool hit: a new kernel and its first cell (`1`) measured in the same run: resume - pool hit
  is what resuming costs over a plain pool hit (the issue's target: 100 ms for 100 MiB);
- full pass: `float(a.sum())` right after the resume, i.e. every page of the mapping touched
  once (the resume maps the image lazily; this is what that laziness defers);
- gateway restore: the "kernel restored" log line's ms (the request that needed the kernel to
  its namespace restored: pool hit, handover, the kernel's restore and its round trip);
- the breakdown of one resume, from the gateway's "kernel restored" log line (process: the
  pool hit; handover; restore: the kernel's round trip) and the kernel's restore.json;
- memory of a hibernated session: its process and cgroup gone (looked up on the host from
  the pid namespace the kernel reported; needs root to read other processes' namespaces).

    /usr/bin/python3 tests/bench/hibernate_bench.py --build-dir build --sizes 1,100,1000
"""

import argparse
import glob
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "gateway"))

STATE = {
    "numpy": "import numpy as np\na = np.random.default_rng(0).random({n})\n",
    "pandas": ("import numpy as np, pandas as pd\n"
               "a = pd.DataFrame({{'x': np.random.default_rng(0).random({n} // 2),"
               " 'y': np.random.default_rng(1).random({n} // 2)}})\n"),
}
FIRST = {"numpy": "float(a[:3].sum())", "pandas": "float(a['x'][:3].sum())"}
FULL = {"numpy": "float(a.sum())", "pandas": "float(a.values.sum())"}
WHERE = ("import os; print(os.getpid(), os.readlink('/proc/self/ns/pid'))")


def timed(gw, method, path, body=None):
    start = time.perf_counter()
    status, answer, _ = gw.request(method, path, body)
    return time.perf_counter() - start, status, answer


def execute(gw, kid, code):
    seconds, status, body = timed(gw, "POST", f"/api/kernels/{kid}/execute", {"code": code})
    assert status == 200 and body["status"] == "ok", body
    return seconds, body


def host_cgroup(gw, kid):
    """The kernel's process seen from the host (pid, cgroup directory), found by its pid
    namespace; None if it cannot be looked up (not root)."""
    _, body = execute(gw, kid, WHERE)
    text = "".join(o.get("text", "") for o in body.get("outputs", []))
    inner, namespace = text.split()
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.readlink(f"/proc/{entry}/ns/pid") == namespace:
                status = open(f"/proc/{entry}/status").read()
                if re.search(r"^NSpid:.*\s" + inner + r"$", status, re.M):
                    line = open(f"/proc/{entry}/cgroup").read().strip().split("::")[-1]
                    return int(entry), "/sys/fs/cgroup" + line
        except OSError:
            continue
    return None


def memory_after(where):
    if where is None:
        return "n/a (not root)"
    pid, cgroup = where
    alive = os.path.exists(f"/proc/{pid}")
    try:
        current = int(open(os.path.join(cgroup, "memory.current")).read())
    except OSError:
        current = None  # the cgroup is gone
    if not alive and current is None:
        return "0 (process and cgroup gone)"
    return f"process {'alive' if alive else 'gone'}, cgroup {current} bytes"


def restored_line(gw, kid):
    for line in reversed(gw.logs().splitlines()):
        if "kernel restored" in line and kid in line:
            return dict(re.findall(r"(\w+)=(\S+)", line))
    return {}


def kernel_phases(gw):
    found = sorted(glob.glob(os.path.join(gw.runtime, "run", "**", "restore.json"),
                             recursive=True), key=os.path.getmtime)
    return json.load(open(found[-1])).get("phases", {}) if found else {}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--sizes", default="1,100,1000", help="MiB of state, comma-separated")
    parser.add_argument("--kinds", default="numpy,pandas")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ["CELLBOX_BUILD_DIR"] = args.build_dir
    from conftest import Gateway  # noqa: E402 - after CELLBOX_BUILD_DIR

    gw = Gateway("--memory", "4G", "--hibernate-max", "0", "--cell-timeout", "300")
    p50 = lambda xs: sorted(xs)[len(xs) // 2] * 1000  # noqa: E731
    breakdowns = []
    try:
        print("| state | hibernate p50 | image | resume: first cell p50 | pool hit p50 | "
              "resume - pool hit p50 | gateway restore p50 | full pass after resume p50 | "
              "hibernated memory |")
        print("|---|---|---|---|---|---|---|---|---|")
        for kind in args.kinds.split(","):
            for mib in [int(s) for s in args.sizes.split(",")]:
                hib, first, pool, over, full, size, memory = [], [], [], [], [], 0, ""
                gateway_restore = []
                for _ in range(args.runs):
                    # A pool hit: a new kernel and its first cell.
                    start = time.perf_counter()
                    status, body, _ = gw.request("POST", "/api/kernels", {})
                    kid = body["id"]
                    execute(gw, kid, "1")
                    pool.append(time.perf_counter() - start)
                    execute(gw, kid, STATE[kind].format(n=mib * 131072))
                    where = host_cgroup(gw, kid)
                    seconds, status, body = timed(gw, "POST", f"/api/kernels/{kid}/hibernate")
                    assert status == 200, body
                    hib.append(seconds)
                    size = body["manifest"]["image_bytes"]
                    time.sleep(0.5)  # its process gone, the pool refilled
                    memory = memory_after(where)
                    seconds, _ = execute(gw, kid, FIRST[kind])
                    first.append(seconds)
                    over.append(seconds - pool[-1])
                    full.append(execute(gw, kid, FULL[kind])[0])
                    line = restored_line(gw, kid)
                    gateway_restore.append(float(line.get("ms", "nan")) / 1000)
                    breakdowns.append((kind, mib, line, kernel_phases(gw)))
                    gw.request("DELETE", f"/api/kernels/{kid}")
                print(f"| {mib} MiB {kind} | {p50(hib):.0f} ms | {size / 2**20:.1f} MiB | "
                      f"{p50(first):.0f} ms | {p50(pool):.0f} ms | {p50(over):.0f} ms | "
                      f"{p50(gateway_restore):.0f} ms | {p50(full):.0f} ms | {memory} |")
        print("\nOne resume of each (gateway: process = pool hit, handover, restore round trip;"
              " kernel: restore.json phases, cumulative ms):")
        for kind, mib, line, phases in breakdowns[args.runs - 1::args.runs]:
            keys = ("ms", "process_ms", "handover_ms", "mapped", "restore_ms")
            print(f"- {mib} MiB {kind}: " + ", ".join(f"{k} {line.get(k, '?')}" for k in keys) +
                  f"; kernel {phases}")
    finally:
        gw.stop()


if __name__ == "__main__":
    main()
