#!/usr/bin/python3
"""cellbox serve against Debian's jupyter_server with ipykernel, same client, one run.

cellbox is measured three ways:
- pool hit: a pooled server (--pool-size N, default 4) with its pool full before each start;
- pool empty: the same server after N unmeasured starts drained its pool (the measured start
  forks a session on demand; the `miss` counter of /metrics confirms it), then every kernel
  deleted and the pool refilled before the next sample;
- no pool: a second server with --pool-size 0 (every kernel launched through cellbox-sandbox).
Debian's ipykernel (kernelspec python3) is measured through cellbox too: from the pooled
server's launch pool (--launch-pool-size N, launched ahead and bound at take) and launched on
demand by the second server (--launch-pool-size 0).

Measures: POST /api/kernels to the first execute_result of `1+1`, and of a pandas cell,
over the WebSocket (median and p90; samples interleaved across the servers so that load from
other processes on the machine hits them alike); trivial execute round trip over the
WebSocket (p50/p99) and stdout throughput to a WebSocket client (pooled server); marginal PSS
per idle session after `import pandas` = (total PSS of the server's kernel processes after K
sessions ran `import pandas` - total before) / K. Writes a plot of the start latency
distributions (--plot). Not a test.

    /usr/bin/python3 tests/bench/gateway_bench.py --build-dir build
"""

import argparse
import asyncio
import copy
import json
import os
import pathlib
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid

import websockets

from bench_util import execute_message, percentile, process_table, stop_process

REPO = pathlib.Path(__file__).resolve().parent.parent.parent
PANDAS_CELL = "import pandas as pd; pd.DataFrame({'a': [1, 2]}).describe()"
RECV_TIMEOUT = 120
START_TIMEOUT = 20  # a start sample with no message for this long counts as failed


class LostOutput(RuntimeError):
    pass
CELLS = {"1+1": "1+1", "pandas": PANDAS_CELL}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(base, method, path, body=None, raw=False):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(req, timeout=120) as res:
        text = res.read()
        if raw:
            return text.decode()
        return json.loads(text) if text else None


async def run(ws, code, session, on_output=None, timeout=None, reply_only=False):
    msg = execute_message(code, session)
    await ws.send(json.dumps(msg))
    got_reply = got_idle = False
    seen = []
    while not (got_reply and (got_idle or reply_only)):
        try:
            m = json.loads(await asyncio.wait_for(ws.recv(), timeout or RECV_TIMEOUT))
        except asyncio.TimeoutError:
            raise LostOutput(f"no message for {timeout or RECV_TIMEOUT} s running {code[:40]!r} "
                               f"(reply {got_reply}, idle {got_idle}; seen {seen[-8:]})")
        seen.append(m["msg_type"])
        if m["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
            continue
        if m["msg_type"] == "error":
            raise RuntimeError(f"cell {code!r} failed: {m['content'].get('ename')}: "
                               f"{m['content'].get('evalue')}")
        if on_output:
            on_output(m)
        if m["channel"] == "shell":
            got_reply = True
        elif m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            got_idle = True


class Server:
    def __init__(self, name, command, base, kernel_name, log_dir, runtime_dir=None):
        self.name, self.base, self.kernel_name = name, base, kernel_name
        self.runtime_dir = runtime_dir
        self.log_path = os.path.join(log_dir, name.replace(" ", "_").replace("+", "") + ".log")
        self.log = open(self.log_path, "w+b")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while True:
            try:
                http(base, "GET", "/api/kernelspecs")
                return
            except Exception:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"{name} did not start:\n{self.log_tail()}")
                time.sleep(0.2)

    def ws_url(self, kernel_id, session):
        return f"{self.base.replace('http', 'ws')}/api/kernels/{kernel_id}/channels?session_id={session}"

    def log_tail(self, lines=30):
        self.log.seek(0)
        return "\n".join(self.log.read().decode(errors="replace").splitlines()[-lines:])

    def stop(self):
        stop_process(self.process, 30)

    def serving(self, name, kernel_name):
        """The same server, measured with another kernelspec."""
        other = copy.copy(self)
        other.name, other.kernel_name = name, kernel_name
        return other

    # -- cellbox only --
    def metric(self, name, labels):
        for line in http(self.base, "GET", "/metrics", raw=True).splitlines():
            if line.startswith(name + "{" + labels + "}"):
                return float(line.split()[-1])
        return None

    def pool_ready(self):
        return self.metric("cellbox_pool_ready_sessions", f'kernelspec="{self.kernel_name}"')

    def misses(self):
        return self.metric("cellbox_pool_takes_total", 'result="miss"')

    def wait_pool(self, size, timeout=60):
        deadline = time.monotonic() + timeout
        while self.pool_ready() != size:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: pool not back to {size} "
                                   f"(ready {self.pool_ready()})")
            time.sleep(0.05)

    def delete_all(self):
        for k in http(self.base, "GET", "/api/kernels"):
            http(self.base, "DELETE", f"/api/kernels/{k['id']}")


async def start_to_first_result(server, code):
    session = uuid.uuid4().hex
    start = time.perf_counter()
    kernel_id = http(server.base, "POST", "/api/kernels", {"name": server.kernel_name})["id"]
    result = None
    async with websockets.connect(server.ws_url(kernel_id, session), max_size=None) as ws:
        def capture(m):
            nonlocal result
            if m["msg_type"] == "execute_result" and result is None:
                result = time.perf_counter() - start
        try:
            await run(ws, code, session, capture, timeout=START_TIMEOUT)
        except LostOutput as e:
            raise LostOutput(f"kernel {kernel_id}: {e}") from None
    if result is None:
        raise RuntimeError(f"{server.name}: no execute_result for {code!r}")
    return kernel_id, result


FAILURES = []
ATTEMPTS = {}


def sample_start(server, mode, code, pool_size):
    """One start-to-first-result sample; leaves the server as it found it (no kernels, pool
    full). Returns seconds, or None when a pool-empty sample turned out to be a pool hit."""
    if mode == "hit":
        server.wait_pool(pool_size)
        misses = server.misses()
    elif mode == "empty":
        server.wait_pool(pool_size)
        for _ in range(pool_size):
            http(server.base, "POST", "/api/kernels", {"name": server.kernel_name})
        misses = server.misses()
    ATTEMPTS[(server.name, mode)] = ATTEMPTS.get((server.name, mode), 0) + 1
    try:
        kernel_id, seconds = asyncio.run(start_to_first_result(server, code))
    except LostOutput as e:
        FAILURES.append((server.name, mode, code, str(e), time.strftime("%H:%M:%S")))
        print(f"  FAILED start ({server.name}, {mode}): {e}", flush=True)
        server.delete_all()
        if mode in ("hit", "empty"):
            server.wait_pool(pool_size)
        return "failed"
    if mode == "hit" and server.misses() != misses:
        raise RuntimeError(f"{server.name}: a pool-hit sample was a miss")
    if mode == "empty" and server.misses() != misses + 1:
        seconds = None  # a refill finished before the take: not a pool-empty start
    if mode in ("hit", "empty"):
        server.delete_all()
        server.wait_pool(pool_size)
    else:
        http(server.base, "DELETE", f"/api/kernels/{kernel_id}")
    return seconds


async def round_trips_and_throughput(server, count):
    session = uuid.uuid4().hex
    kernel_id = http(server.base, "POST", "/api/kernels", {"name": server.kernel_name})["id"]
    async with websockets.connect(server.ws_url(kernel_id, session), max_size=None) as ws:
        for _ in range(10):
            await run(ws, "pass", session)
        samples = []
        for _ in range(count):
            t = time.perf_counter()
            await run(ws, "pass", session)
            samples.append(time.perf_counter() - t)
        received = 0

        def count_bytes(m):
            nonlocal received
            if m["msg_type"] == "stream":
                received += len(m["content"]["text"])
        t = time.perf_counter()
        await run(ws, "import sys\nline = 'x' * 1023 + '\\n'\nfor _ in range(64 * 1024):\n"
                      "    sys.stdout.write(line)", session, count_bytes)
        throughput = received / (time.perf_counter() - t) / 1e6
    http(server.base, "DELETE", f"/api/kernels/{kernel_id}")
    return percentile(samples, 0.5), percentile(samples, 0.99), throughput, received


def kernel_pids(server):
    """The server's kernel processes: its descendants, and for cellbox every process whose
    command line names its runtime dir (zygote, supervisors, inits, kernels)."""
    table = process_table()
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    pids, todo = set(), [server.process.pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in pids:
                pids.add(child)
                todo.append(child)
    if server.runtime_dir:
        needle = server.runtime_dir.rstrip("/") + "/"
        pids |= {pid for pid, (_, cmd) in table.items() if needle in cmd}
    pids.discard(server.process.pid)
    return pids


def pss_of(pids):
    total = 0
    for pid in pids:
        try:
            for line in open(f"/proc/{pid}/smaps_rollup"):
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def settled_pss(server, pool_size):
    if server.runtime_dir and pool_size:
        server.wait_pool(pool_size)
    time.sleep(2)
    return pss_of(kernel_pids(server))


async def open_with_pandas(server, kernels):
    ids = []
    for _ in range(kernels):
        session = uuid.uuid4().hex
        kernel_id = http(server.base, "POST", "/api/kernels", {"name": server.kernel_name})["id"]
        async with websockets.connect(server.ws_url(kernel_id, session), max_size=None) as ws:
            # the reply is enough here (see the lost-iopub note in FAILED starts)
            await run(ws, "import pandas", session, reply_only=True)
        ids.append(kernel_id)
    return ids


def marginal_pss(server, pool_size, kernels):
    """(total PSS of the kernel processes with K idle sessions that ran `import pandas` -
    total before) / K; a pooled server's pool is full in both measurements."""
    before = settled_pss(server, pool_size)
    ids = asyncio.run(open_with_pandas(server, kernels))
    after = settled_pss(server, pool_size)
    for kernel_id in ids:
        http(server.base, "DELETE", f"/api/kernels/{kernel_id}")
    return (after - before) / kernels


def plot(path, starts, labels, title_suffix):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker
    width = max(6, 1.4 * len(labels))
    fig, axes = plt.subplots(1, len(CELLS), figsize=(width * len(CELLS), 5), sharey=True)
    for ax, cell in zip(axes, CELLS):
        data = [[s * 1000 for s in starts[label][cell]] for label in labels]
        ax.boxplot(data, whis=(0, 100), widths=0.5, showfliers=False)
        for i, values in enumerate(data, start=1):
            jitter = [i + 0.12 * ((j * 0.618) % 1 - 0.5) for j in range(len(values))]
            ax.scatter(jitter, values, s=14, alpha=0.6, zorder=3)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_locator(ticker.LogLocator(subs=(2, 5)))
        ax.yaxis.set_minor_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xticks(range(1, len(labels) + 1))
        ax.set_xticklabels([label.replace(" (", "\n(").replace(" + ", "\n+ ")
                            for label in labels], fontsize=8)
        ax.set_title("first result of `1+1`" if cell == "1+1"
                     else "first result of a pandas describe()", fontsize=10)
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0].set_ylabel("POST /api/kernels to first execute_result (ms, log)")
    fig.suptitle(f"Kernel start latency, {title_suffix}", fontsize=11)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--starts", type=int, default=15, help="samples per server and cell")
    parser.add_argument("--round-trips", type=int, default=200)
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--pss-kernels", type=int, default=5)
    parser.add_argument("--plot", default=str(REPO / "docs" / "start_latency.png"))
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="cellbox-bench-")
    cellbox = os.path.join(args.build_dir, "bin", "cellbox")

    def cellbox_server(name, tag, pool_size):
        port = free_port()
        runtime = os.path.join(root, tag, "runtime")
        return Server(name, [cellbox, "serve", "--no-token", "--port", str(port),
                             "--runtime-dir", runtime,
                             "--work-dir", os.path.join(root, tag, "work"),
                             "--pool-size", str(pool_size),
                             "--launch-pool-size", str(pool_size),
                             # the throughput run sends 64 MiB from one cell
                             "--max-output-bytes", "0"],
                      f"http://127.0.0.1:{port}", "cellbox-python", root, runtime)

    theirs_port = free_port()
    servers = []
    try:
        pooled = cellbox_server("cellbox pooled", "pooled", args.pool_size)
        servers.append(pooled)
        nopool = cellbox_server("cellbox no pool", "nopool", 0)  # nor prespawned ipykernels
        servers.append(nopool)
        jupyter = Server("jupyter_server + ipykernel",
                         ["/usr/bin/python3", "-m", "jupyter_server", "--no-browser",
                          "--allow-root", f"--port={theirs_port}", "--ServerApp.token=",
                          "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
                          f"--ServerApp.root_dir={root}",
                          # its default rate limits drop output: off, as for API users
                          "--ServerApp.iopub_data_rate_limit=0",
                          "--ServerApp.iopub_msg_rate_limit=0"],
                         f"http://127.0.0.1:{theirs_port}", "python3", root)
        servers.append(jupyter)
        pooled.wait_pool(args.pool_size)
        ipy_pooled = pooled.serving("cellbox ipykernel pooled", "python3")
        ipy_pooled.wait_pool(args.pool_size)
        modes = [("cellbox (pool hit)", pooled, "hit"),
                 ("cellbox (pool empty)", pooled, "empty"),
                 ("cellbox (no pool)", nopool, None),
                 ("cellbox + ipykernel (launch pool hit)", ipy_pooled, "hit"),
                 ("cellbox + ipykernel (on demand)",
                  nopool.serving("cellbox ipykernel on demand", "python3"), None),
                 ("jupyter_server + ipykernel", jupyter, None)]
        labels = [label for label, _, _ in modes]
        # one warm-up start each (page cache, first-use costs), not measured
        for label, server, mode in modes:
            for code in CELLS.values():
                sample_start(server, mode, code, args.pool_size)
        starts = {label: {cell: [] for cell in CELLS} for label in labels}
        discarded = 0
        load_before = os.getloadavg()
        for i in range(args.starts):
            print(f"start samples, round {i + 1}/{args.starts} ...", flush=True)
            for cell, code in CELLS.items():
                for label, server, mode in modes:
                    for _ in range(5):
                        seconds = sample_start(server, mode, code, args.pool_size)
                        if seconds not in (None, "failed"):
                            break
                        discarded += seconds is None
                    starts[label][cell].append(seconds)
        print("round trips and throughput ...", flush=True)
        trips = {}
        for server in (pooled, jupyter):
            p50, p99, throughput, received = asyncio.run(
                round_trips_and_throughput(server, args.round_trips))
            assert received == 64 * 1024 * 1024, f"{server.name} lost output: {received}"
            trips[server.name] = (p50, p99, throughput)
        print("PSS ...", flush=True)
        pss = {pooled.name: marginal_pss(pooled, args.pool_size, args.pss_kernels),
               nopool.name: marginal_pss(nopool, 0, args.pss_kernels),
               jupyter.name: marginal_pss(jupyter, 0, args.pss_kernels)}
        load_after = os.getloadavg()
    finally:
        for server in servers:
            server.stop()

    if FAILURES:
        print(f"FAILED starts (no message for {START_TIMEOUT} s; each retaken): "
              f"{len(FAILURES)}; attempts (warm-up included): "
              + ", ".join(f"{n} [{m}] {c}" for (n, m), c in ATTEMPTS.items()))
        for name, mode, code, text, when in FAILURES:
            print(f"  {when} {name} [{mode}] {code[:30]!r}: {text}")
        print(f"server logs kept in {root}")
    if discarded:
        print(f"note: {discarded} pool-empty samples were pool hits (a refill won the race) "
              "and were taken again")
    print(f"load average (1, 5, 15 min) {load_before[0]:.2f} {load_before[1]:.2f} "
          f"{load_before[2]:.2f} before the start samples, {load_after[0]:.2f} "
          f"{load_after[1]:.2f} {load_after[2]:.2f} at the end; {os.cpu_count()} CPUs")
    theirs = "jupyter_server + ipykernel"
    print()
    print(f"| measure | {' | '.join(labels)} |")
    print("|---|" + "---|" * len(labels))

    def ms(s):
        return f"{s * 1000:.0f} ms" if s >= 0.1 else f"{s * 1000:.1f} ms"
    for cell in CELLS:
        what = "`1+1`" if cell == "1+1" else "`" + PANDAS_CELL + "`"
        for name, q in (("median", 0.5), ("p90", 0.9)):
            ref = percentile(starts[theirs][cell], q)
            cells = []
            for label in labels:
                v = percentile(starts[label][cell], q)
                cells.append(ms(v) + ("" if label == theirs else f" ({ref / v:.1f}x)"))
            print(f"| POST /api/kernels to first result of {what}, {name} of {args.starts} | "
                  f"{' | '.join(cells)} |")
    p, j = trips["cellbox pooled"], trips[theirs]
    mib = 2 ** 20

    def row(what, values):
        """`values`: label -> text; the other columns say what they are."""
        shown = {label: "-" for label in labels}
        shown["cellbox (pool empty)"] = "(same server as pool hit)"
        shown.update(values)
        print(f"| {what} | {' | '.join(shown[label] for label in labels)} |")
    row(f"execute round trip over the WebSocket, p50 of {args.round_trips}",
        {"cellbox (pool hit)": f"{p[0] * 1000:.2f} ms ({j[0] / p[0]:.1f}x)",
         theirs: f"{j[0] * 1000:.2f} ms"})
    row(f"execute round trip over the WebSocket, p99 of {args.round_trips}",
        {"cellbox (pool hit)": f"{p[1] * 1000:.2f} ms ({j[1] / p[1]:.1f}x)",
         theirs: f"{j[1] * 1000:.2f} ms"})
    row("stdout throughput to the client (64 MiB)",
        {"cellbox (pool hit)": f"{p[2]:.0f} MB/s ({p[2] / j[2]:.1f}x)",
         theirs: f"{j[2]:.0f} MB/s"})
    row(f"marginal PSS per idle session after `import pandas` (K={args.pss_kernels})",
        {"cellbox (pool hit)": f"{pss['cellbox pooled'] / mib:.1f} MiB "
                               f"({pss[theirs] / pss['cellbox pooled']:.1f}x)",
         "cellbox (no pool)": f"{pss['cellbox no pool'] / mib:.1f} MiB "
                              f"({pss[theirs] / pss['cellbox no pool']:.1f}x)",
         theirs: f"{pss[theirs] / mib:.1f} MiB"})
    print()
    print("(x: jupyter_server + ipykernel / cellbox for times and memory, cellbox / "
          "jupyter_server for throughput; > 1 means cellbox is better)")
    plot(args.plot, starts, labels,
         f"{args.starts} samples each, {os.cpu_count()} CPUs, load avg ~{load_after[1]:.1f}")
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
