#!/usr/bin/python3
"""Kernel-start bursts against the pool-hit median, the adaptive pool off and on, one run.

Issue #13: 20 `POST /api/kernels` back to back, with no pause for refills, must each get their
first result within 2x the pool-hit median. A start is timed from its POST /api/kernels to the
answer of `POST /api/kernels/{id}/execute {"code": "1+1"}` (the result checked).

Two servers, their samples interleaved (every pool settled before each sample):
- "fixed" (before): --pool-max equal to --pool-size, the pool never grows;
- "adaptive" (after): --pool-max N, the pool grows with the starts it saw in the last
  --pool-window seconds and shrinks back when idle.
Per server: the pool-hit median (starts spaced so that the pool is full before each), then
bursts of --burst starts, sequential (one client, back to back) and concurrent (one thread
per start, all at once). Between bursts every kernel is deleted and the pool is left to settle
(ready == target): the first burst meets a pool of --pool-size, the next ones a pool that has
seen a burst. Before the first burst of each variant the adaptive server is left idle until
its pool is back to --pool-size (--pool-window seconds without starts). Not a test.

    /usr/bin/python3 tests/bench/burst_bench.py --build-dir build
"""

import argparse
import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

from bench_util import percentile, stop_process

KERNELSPEC = "cellbox-python"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name, cellbox, root, extra):
        self.name = name
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        tag = name.split()[0]
        self.log = open(os.path.join(root, tag + ".log"), "w+b")
        self.process = subprocess.Popen(
            [cellbox, "serve", "--no-token", "--port", str(port),
             "--runtime-dir", os.path.join(root, tag, "runtime"),
             "--work-dir", os.path.join(root, tag, "work"),
             "--launch-pool-size", "0", "--max-kernels-per-user", "0", *extra],
            stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.http("GET", "/api/kernelspecs")
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"{name} did not start (log {self.log.name})")
                time.sleep(0.2)

    def http(self, method, path, body=None, raw=False):
        req = urllib.request.Request(self.base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
        with urllib.request.urlopen(req, timeout=120) as res:
            text = res.read()
        return text.decode() if raw else (json.loads(text) if text else None)

    def metrics(self):
        text = self.http("GET", "/metrics", raw=True)
        out = {}
        for name, labels in (("ready", f'cellbox_pool_ready_sessions{{kernelspec="{KERNELSPEC}"}}'),
                             ("target", f'cellbox_pool_target_sessions{{kernelspec="{KERNELSPEC}"}}'),
                             ("hits", 'cellbox_pool_takes_total{result="hit"}'),
                             ("misses", 'cellbox_pool_takes_total{result="miss"}')):
            m = re.search(rf"^{re.escape(labels)} (\S+)$", text, re.MULTILINE)
            out[name] = float(m.group(1)) if m else None
        return out

    def settle(self, timeout=120):
        """Until the pool holds its target (the fixed pool: its size) and stays so briefly."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.metrics()
            target = m["target"] if m["target"] is not None else None
            if target and m["ready"] == target:
                time.sleep(0.3)
                if self.metrics()["ready"] == target:
                    return m
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: the pool did not settle ({m})")
            time.sleep(0.1)

    def wait_idle(self, size, timeout=300):
        """Until the pool is back to `size` (no starts for a window)."""
        deadline = time.monotonic() + timeout
        while (m := self.metrics())["target"] != size or m["ready"] != size:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: the pool did not shrink back ({m})")
            time.sleep(0.5)

    def delete_all(self):
        for k in self.http("GET", "/api/kernels"):
            self.http("DELETE", f"/api/kernels/{k['id']}")

    def stop(self):
        stop_process(self.process, 30)


def one_start(server):
    """Seconds from POST /api/kernels to the answer of `1+1` through the execute API."""
    start = time.perf_counter()
    kid = server.http("POST", "/api/kernels", {"name": KERNELSPEC})["id"]
    answer = server.http("POST", f"/api/kernels/{kid}/execute", {"code": "1+1"})
    took = time.perf_counter() - start
    if answer.get("result", {}).get("text/plain") != "2":
        raise RuntimeError(f"{server.name}: 1+1 gave {answer}")
    return took


def hit_sample(server):
    """One start with the pool full (the caller settled it)."""
    misses = server.metrics()["misses"]
    took = one_start(server)
    if server.metrics()["misses"] != misses:
        raise RuntimeError(f"{server.name}: a pool-hit sample was a miss")
    server.delete_all()
    return took


def burst(server, count, concurrent):
    """Per-start seconds of `count` starts back to back (or all at once), with hits and misses."""
    before = server.settle()
    if concurrent:
        times = [None] * count
        errors = []

        def run(i):
            try:
                times[i] = one_start(server)
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(e)
        threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
    else:
        times = [one_start(server) for _ in range(count)]
    after = server.metrics()
    server.delete_all()
    return times, before, after


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default=os.environ.get("CELLBOX_BUILD_DIR", "build"))
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--pool-max", type=int, default=24)
    parser.add_argument("--pool-window", type=float, default=60)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--bursts", type=int, default=3, help="per variant and server")
    parser.add_argument("--hits", type=int, default=15, help="pool-hit samples per server")
    parser.add_argument("--only", choices=("fixed", "adaptive"))
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="cellbox-burst-")
    cellbox = os.path.join(args.build_dir, "bin", "cellbox")
    configs = [("fixed (before)", ["--pool-size", str(args.pool_size),
                                   "--pool-max", str(args.pool_size)]),
               ("adaptive (after)", ["--pool-size", str(args.pool_size),
                                     "--pool-max", str(args.pool_max),
                                     "--pool-window", str(args.pool_window)])]
    rows = []
    servers = []
    try:
        for name, extra in configs:
            if not args.only or name.startswith(args.only):
                servers.append(Server(name, cellbox, root, extra))
        for server in servers:
            server.settle()
            one_start(server)  # warm-up (page cache, first use), not measured
            server.delete_all()
        # Interleaved, each sample with every pool settled: the machine's other load (and the
        # other server's refills) hit both alike.
        samples = {server.name: [] for server in servers}
        for _ in range(args.hits):
            for server in servers:
                for other in servers:
                    other.settle()
                samples[server.name].append(hit_sample(server))
        medians = {name: percentile(times, 0.5) for name, times in samples.items()}
        for name, median in medians.items():
            print(f"{name}: pool-hit median {median * 1000:.1f} ms", flush=True)
        for concurrent in (False, True):
            variant = "concurrent" if concurrent else "sequential"
            for server in servers:
                server.wait_idle(args.pool_size)
            for i in range(args.bursts):
                for server in servers:
                    for other in servers:
                        other.settle()
                    times, before, after = burst(server, args.burst, concurrent)
                    median = medians[server.name]
                    row = (server.name, variant, i + 1, median, times,
                           int(before["ready"]), int(after["hits"] - before["hits"]),
                           int(after["misses"] - before["misses"]))
                    rows.append(row)
                    print(f"  {server.name} {variant} burst {i + 1}: pool {row[5]} ready, "
                          f"{row[6]} hits {row[7]} misses, max {max(times) * 1000:.1f} ms, "
                          f"max/median {max(times) / median:.2f}", flush=True)
    finally:
        for server in servers:
            server.stop()
    rows.sort(key=lambda r: (r[0] != configs[0][0], r[1] != "sequential", r[2]))

    print()
    print(f"{args.burst} starts per burst, POST /api/kernels to the `1+1` answer of the execute API "
          f"(ms); ratio = max / pool-hit median; load average {os.getloadavg()[0]:.2f}")
    print()
    print("| pool | burst | pool ready before | hits / misses | hit median | p50 | p90 | max | "
          "max / hit median | within 2x |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, variant, i, median, times, ready, hits, misses in rows:
        within = sum(t <= 2 * median for t in times)
        print(f"| {name} | {variant} #{i} | {ready} | {hits} / {misses} | {median * 1000:.1f} | "
              f"{percentile(times, 0.5) * 1000:.1f} | {percentile(times, 0.9) * 1000:.1f} | "
              f"{max(times) * 1000:.1f} | {max(times) / median:.2f} | {within}/{len(times)} |")
    print(f"\nlogs in {root}")


if __name__ == "__main__":
    main()
