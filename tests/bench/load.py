#!/usr/bin/python3
"""Load test of cellbox serve through its public API. Not a unit test.

1. open N sessions (POST /api/kernels + one WebSocket each, --open-concurrency at a time);
   each session's first cell sets SESSION_TOKEN (random hex) and SESSION_N (its index);
2. keep them all idle (--idle-seconds), measure PSS of the gateway and of all kernels;
3. run --rounds cells in every session, C (--concurrency, default 50) executing at any time:
   `print(SESSION_TOKEN * 3, SESSION_N * SESSION_N)`; the client checks each cell's stdout is
   exactly what that session must print, that no error or stderr came, and that every message
   on a session's WebSocket answers a request of that session (nothing lost or crossed);
4. paced: --concurrency sessions each run the same cell on a schedule, together offering
   each rate of --paced-rates cells/s for --paced-seconds (open loop: the latency a user sees
   at that load, rather than the closed loop's queue of C cells always waiting), while
   --busy-sessions other sessions each run a CPU-bound cell throughout;
5. report sessions opened, open time, errors, round trip p50/p99 under concurrency and paced,
   the whole machine's CPU time per cell in the closed loop (2 cores / that = the most cells
   per second this machine can run, so C / that = the least mean latency of C in flight), PSS
   totals and per session, as a markdown table.

The closed loop (3.) runs in cellbox-load-driver (tests/bench/load_driver.cpp, same checks) on
WebSockets of its own, unless --client python: this script's asyncio client cost more CPU per
cell than the gateway. Opening stops early (and says so) when MemAvailable falls below
--min-available-gib. The WebSockets speak the v1.kernel.websocket.jupyter.org framing, as
JupyterLab 4 does (--protocol legacy: jupyter_server's JSON framing, as older clients do).
The kernels run as the sandbox policy schedules them (SCHED_BATCH); --kernel-scheduling normal
sets them to SCHED_OTHER once opened, to compare in one build.

    /usr/bin/python3 tests/bench/load.py --build-dir build --sessions 200
"""

import argparse
import asyncio
import concurrent.futures
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import websockets

import load_session
from bench_util import V1_PROTOCOL, percentile, stop_process
from load_session import Session, run_cell, run_check_cell
from proc_stats import (cpu_split, kernel_pids, kernel_scheduling, mem_available,
                        processes_cpu, smaps, tcp_segments_sent, thread_count)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(base, method, path, body=None, raw=False, timeout=300):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            text = res.read()
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"{method} {path}: HTTP {e.code}: {e.read()[:300]!r}") from None
    if raw:
        return text.decode()
    return json.loads(text) if text else None


class Load:
    def __init__(self, args, base, runtime_dir, server_pid, server_dead):
        self.server_dead = server_dead
        self.args, self.base = args, base
        self.runtime_dir, self.server_pid = runtime_dir, server_pid
        self.rest = concurrent.futures.ThreadPoolExecutor(max_workers=args.rest_threads)
        self.errors = []             # (phase, session index, text)
        self.sessions = []
        self.failed = []             # kernels opened whose session did not work
        self.open_latencies = []
        self.stopped_because = None
        self.driver_counts = {"crossed": 0, "stale": 0, "foreign": 0}  # cellbox-load-driver's

    def error(self, phase, index, text):
        self.errors.append((phase, index, text))
        if len(self.errors) <= 20:
            print(f"  error [{phase}] session {index}: {text}", file=sys.stderr, flush=True)

    async def rest_call(self, method, path, body=None):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.rest, lambda: http(self.base, method, path, body))

    def ws_url(self, s):
        return (f"{self.base.replace('http', 'ws')}/api/kernels/{s.kernel_id}/channels"
                f"?session_id={s.client_session}")

    async def connect(self, s):
        # the gateway pings; no client pings (a busy client loop would drop connections)
        s.ws = await websockets.connect(
            self.ws_url(s), max_size=None, ping_interval=None, open_timeout=120,
            close_timeout=5, subprotocols=[V1_PROTOCOL] if load_session.PROTOCOL == "v1" else None)
        if load_session.PROTOCOL == "v1" and s.ws.subprotocol != V1_PROTOCOL:
            raise RuntimeError(f"the gateway chose subprotocol {s.ws.subprotocol!r}")

    async def open_one(self, s):
        t = time.perf_counter()
        try:
            s.kernel_id = (await self.rest_call("POST", "/api/kernels",
                                                {"name": "cellbox-python"}))["id"]
        except Exception as e:
            self.error("open: POST", s.index, str(e))
            return False
        try:
            await self.connect(s)
        except Exception as e:
            self.error("open: WebSocket", s.index, repr(e))
            return False
        try:
            out, problems = await run_cell(
                s, f"SESSION_TOKEN = {s.token!r}; SESSION_N = {s.index}")
        except Exception as e:
            self.error("open: first cell", s.index, f"connection: {e!r}")
            return False
        if problems or out:
            self.error("open: first cell", s.index, f"{problems} {out!r}")
            if any(p.startswith("timeout") for p in problems):
                return False
        self.open_latencies.append(time.perf_counter() - t)
        return True

    async def open_all(self):
        limit = asyncio.Semaphore(self.args.open_concurrency)
        floor = self.args.min_available_gib * 2**30
        stop = asyncio.Event()
        done = 0

        async def one(i):
            nonlocal done
            async with limit:
                if stop.is_set():
                    return
                if self.server_dead():
                    self.stopped_because = (f"the gateway exited (status "
                                            f"{self.server_dead()}) after {len(self.sessions)} "
                                            "sessions")
                    stop.set()
                    return
                if mem_available() < floor:
                    if not stop.is_set():
                        self.stopped_because = (
                            f"MemAvailable {mem_available() / 2**30:.1f} GiB < "
                            f"{self.args.min_available_gib} GiB after {len(self.sessions)} "
                            "sessions")
                    stop.set()
                    return
                s = Session(i)
                ok = await self.open_one(s)
                if ok:
                    self.sessions.append(s)
                elif s.kernel_id or s.ws:
                    self.failed.append(s)
                done += 1
                if done % 50 == 0:
                    print(f"  opened {len(self.sessions)}/{done} "
                          f"(MemAvailable {mem_available() / 2**30:.1f} GiB)", flush=True)

        await asyncio.gather(*(one(i) for i in range(self.args.sessions)))

    async def run_all(self):
        limit = asyncio.Semaphore(self.args.concurrency)
        latencies, wrong, lost = [], [], 0
        in_flight = peak = 0

        async def one(s):
            nonlocal lost, in_flight, peak
            for _ in range(self.args.rounds):
                async with limit:
                    in_flight += 1
                    peak = max(peak, in_flight)
                    t = time.perf_counter()
                    out, problems = await run_check_cell(s)
                    latencies.append(time.perf_counter() - t)
                    in_flight -= 1
                if problems:
                    self.error("run", s.index, "; ".join(problems))
                    if not out:
                        lost += 1
                if out != s.expected():
                    wrong.append((s.index, s.expected(), out))
                    if out:
                        self.error("run", s.index, f"wrong output {out!r}, "
                                   f"expected {s.expected()!r}")
                if problems and any(p.startswith("connection") for p in problems):
                    return

        # The kernels' own CPU time (every process the gateway started: zygote, supervisors,
        # kernels), read per process: on a shared machine the whole machine's time counts
        # other people's work too.
        kernels = kernel_pids(self.server_pid, self.runtime_dir)
        t, cpu = time.perf_counter(), self.counters(kernels)
        await asyncio.gather(*(one(s) for s in self.sessions))
        used = [after - before for after, before in zip(self.counters(kernels), cpu)]
        return time.perf_counter() - t, latencies, wrong, lost, peak, used

    def counters(self, kernels):
        """(machine, this client, gateway, kernels) CPU seconds, TCP segments sent so far."""
        return cpu_split(self.server_pid) + (processes_cpu(kernels), tcp_segments_sent())

    async def run_all_cpp(self):
        """run_all's closed loop driven by cellbox-load-driver (load_driver.cpp) on WebSockets
        of its own; this client's are closed meanwhile (a kernel's iopub goes to every
        connection) and opened again after. Same return value; the client's CPU time is the
        driver's own during the loop."""
        await asyncio.gather(*(s.ws.close() for s in self.sessions))
        with tempfile.NamedTemporaryFile("w", suffix=".json") as spec:
            json.dump({"host": "127.0.0.1", "port": int(self.base.rsplit(":", 1)[1]),
                       "concurrency": self.args.concurrency, "rounds": self.args.rounds,
                       "sessions": [{"kernel_id": s.kernel_id, "token": s.token,
                                     "index": s.index} for s in self.sessions]}, spec)
            spec.flush()
            driver = subprocess.Popen([self.args.driver, spec.name], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
            ready = driver.stdout.readline().split()
            if ready[:1] != ["ready"] or int(ready[1]) != len(self.sessions):
                driver.kill()
                raise RuntimeError(f"cellbox-load-driver opened {ready} of "
                                   f"{len(self.sessions)} sessions: {driver.communicate()}")
            kernels = kernel_pids(self.server_pid, self.runtime_dir)
            cpu = self.counters(kernels)
            driver.stdin.write("go\n")
            driver.stdin.flush()
            line = driver.stdout.readline()  # the report comes as the last cell ends
            now = self.counters(kernels)
            driver.wait()
            if not line:
                raise RuntimeError(f"cellbox-load-driver exited with status {driver.returncode} "
                                   "without a report (its stderr is above)")
            result = json.loads(line)
        used = [after - before for after, before in zip(now, cpu)]
        used[1] = result["cpu_seconds"]
        for index, text in result["errors"]:
            self.error("run", index, text)
        for kind in ("crossed", "stale", "foreign"):
            self.driver_counts[kind] += result[kind]
        # Again for the paced phases; a session that cannot reconnect is an error of its own
        # (its paced cells then report their broken connection).
        outcomes = await asyncio.gather(*(self.connect(s) for s in self.sessions),
                                        return_exceptions=True)
        for s, outcome in zip(self.sessions, outcomes):
            if isinstance(outcome, Exception):
                self.error("reconnect", s.index, repr(outcome))
        return (result["run_time"], result["latencies"], [tuple(w) for w in result["wrong"]],
                result["lost"], result["peak"], used)

    async def run_paced(self, rate, seconds):
        """--concurrency sessions run a cell on a fixed schedule, `rate` cells/s in total,
        staggered; returns each cell's time from when it was due to its last message. The
        schedule is kept whatever the latency: the offered load is the rate."""
        chosen = self.sessions[:self.args.concurrency]
        interval = len(chosen) / rate
        latencies = []
        end = time.monotonic() + seconds

        async def one(k, s):
            next_at = time.monotonic() + interval * k / len(chosen)
            while next_at < end:
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                out, problems = await run_check_cell(s)
                # From the time the cell was due, not sent: a cell that had to wait for the
                # session's previous one counts that wait (no coordinated omission).
                latencies.append(time.monotonic() - next_at)
                if problems or out != s.expected():
                    self.error("paced", s.index, f"{problems} {out!r}")
                    if any(p.startswith("connection") for p in problems):
                        return
                next_at += interval

        async def busy(s):
            # CPU-bound for the whole phase: what the paced cells compete with.
            code = (f"import time\nt = time.monotonic()\nwhile time.monotonic() - t < "
                    f"{seconds + 0.5}: pass\nprint('done')")
            out, problems = await run_cell(s, code)
            if problems or out != "done\n":
                self.error("busy", s.index, f"{problems} {out!r}")

        hogs = self.sessions[len(chosen):][-self.args.busy_sessions:] if self.args.busy_sessions \
            else []
        await asyncio.gather(*(one(k, s) for k, s in enumerate(chosen)),
                             *(busy(s) for s in hogs))
        return latencies

    async def close_all(self):
        await asyncio.gather(*(s.ws.close() for s in self.sessions + self.failed if s.ws),
                             return_exceptions=True)
        limit = asyncio.Semaphore(self.args.rest_threads)

        async def delete(s):
            async with limit:
                try:
                    await self.rest_call("DELETE", f"/api/kernels/{s.kernel_id}")
                except Exception as e:
                    self.error("delete", s.index, str(e))
        t = time.perf_counter()
        await asyncio.gather(*(delete(s) for s in self.sessions + self.failed
                               if s.kernel_id))
        return time.perf_counter() - t

    def memory(self):
        pids = kernel_pids(self.server_pid, self.runtime_dir)
        return {"gateway_pss": smaps([self.server_pid]),
                "gateway_rss": smaps([self.server_pid], "Rss:"),
                "kernels_pss": smaps(pids), "kernels_processes": len(pids),
                "kernels_threads": thread_count(pids),
                "gateway_threads": thread_count([self.server_pid]),
                "available": mem_available()}


def metric_lines(base, names):
    try:
        text = http(base, "GET", "/metrics", raw=True, timeout=30)
    except Exception as e:
        return [f"/metrics failed: {e}"]
    return [line for line in text.splitlines()
            if not line.startswith("#") and any(line.startswith(n) for n in names)]


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
    if hard != resource.RLIM_INFINITY and hard < want:
        try:  # root may raise the hard limit too
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--cellbox", default="cellbox",
                        help="the gateway binary's name in <build-dir>/bin (another build's "
                        "gateway copied beside it runs with the same kernels)")
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50,
                        help="cells executing at once in the run phase")
    parser.add_argument("--rounds", type=int, default=3, help="cells per session")
    parser.add_argument("--paced-rates", type=lambda text: [int(v) for v in text.split(",")],
                        default=[50, 100, 200], help="cells/s offered in the paced phases")
    parser.add_argument("--paced-seconds", type=float, default=10)
    parser.add_argument("--open-concurrency", type=int, default=8)
    parser.add_argument("--rest-threads", type=int, default=16)
    parser.add_argument("--idle-seconds", type=float, default=10)
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--memory", default="256M", help="memory limit per kernel")
    parser.add_argument("--protocol", choices=["v1", "legacy"], default="v1",
                        help="WebSocket framing: v1 (binary, JupyterLab 4's) or legacy (JSON)")
    parser.add_argument("--min-available-gib", type=float, default=3.0,
                        help="stop opening sessions below this MemAvailable")
    parser.add_argument("--busy-sessions", type=int, default=0,
                        help="sessions running a CPU-bound cell throughout each paced phase")
    parser.add_argument("--kernel-scheduling", choices=["policy", "normal"], default="policy",
                        help="policy: the kernels as the sandbox policy schedules them (batch); "
                        "normal: their SCHED_BATCH threads set to SCHED_OTHER once opened")
    parser.add_argument("--client", choices=["cpp", "python"], default="cpp",
                        help="the closed loop's client: cpp (cellbox-load-driver, v1 framing "
                        "only) or python (this script's asyncio client)")
    args = parser.parse_args()
    args.driver = os.path.join(args.build_dir, "bin", "cellbox-load-driver")
    if args.client == "cpp" and args.protocol != "v1":
        parser.error("--client cpp speaks the v1 framing only: add --client python")
    if args.client == "cpp" and not os.access(args.driver, os.X_OK):
        parser.error(f"{args.driver} is missing (cmake --build): or add --client python")
    load_session.PROTOCOL = args.protocol

    nofile = raise_nofile(max(65536, args.sessions * 16))
    root = tempfile.mkdtemp(prefix="cellbox-load-")
    runtime_dir = os.path.join(root, "runtime")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = os.path.join(root, "server.log")
    log = open(log_path, "wb")
    command = [os.path.join(args.build_dir, "bin", args.cellbox), "serve", "--no-token",
               "--port", str(port), "--runtime-dir", runtime_dir,
               "--work-dir", os.path.join(root, "work"), "--pool-size", str(args.pool_size),
               "--max-kernels", str(args.sessions + 64), "--max-kernels-per-user", "0",
               "--max-connections", "0", "--max-connections-per-ip", "0",
               "--memory", args.memory, "--log-level", "warn"]
    print(f"WebSocket framing {args.protocol}; closed loop's client {args.client}; "
          f"RLIMIT_NOFILE {nofile}; {os.cpu_count()} CPUs; "
          f"load avg {os.getloadavg()}; "
          f"MemAvailable {mem_available() / 2**30:.1f} GiB; pid_max "
          f"{open('/proc/sys/kernel/pid_max').read().strip()}; server log {log_path}", flush=True)
    server = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
    report = {}
    load = None
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                http(base, "GET", "/api/kernelspecs", timeout=5)
                break
            except Exception:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("cellbox serve did not start")
                time.sleep(0.2)
        time.sleep(3)  # pool filled
        load = Load(args, base, runtime_dir, server.pid, server.poll)
        baseline = load.memory()

        print(f"opening {args.sessions} sessions ...", flush=True)
        t = time.perf_counter()
        asyncio_loop = asyncio.new_event_loop()
        asyncio.set_event_loop(asyncio_loop)
        asyncio_loop.run_until_complete(load.open_all())
        open_time = time.perf_counter() - t
        opened = len(load.sessions)
        if server.poll() is not None:
            with open(log_path, "rb") as f:
                tail = f.read().decode(errors="replace").splitlines()[-5:]
            print(f"the gateway exited with status {server.returncode} after {opened} sessions; "
                  "log tail:\n  " + "\n  ".join(tail), flush=True)
            print(f"errors: {len(load.errors)}; largest size opened: {opened}")
            sys.exit(1)
        listed = len(http(base, "GET", "/api/kernels"))
        scheduling = kernel_scheduling(kernel_pids(server.pid, runtime_dir),
                                       args.kernel_scheduling == "normal")
        print(f"opened {opened} in {open_time:.1f} s; the gateway lists {listed} kernels; "
              f"kernel threads by scheduling policy: {scheduling}; "
              f"idle {args.idle_seconds:.0f} s ...", flush=True)
        asyncio_loop.run_until_complete(asyncio.sleep(args.idle_seconds))
        idle = load.memory()

        print(f"running {args.rounds} cells in each of {opened} sessions, "
              f"{args.concurrency} at a time ...", flush=True)
        run_time, latencies, wrong, lost, peak, run_cpu = asyncio_loop.run_until_complete(
            load.run_all_cpp() if args.client == "cpp" else load.run_all())
        after = load.memory()
        paced = {}
        for rate in args.paced_rates:
            print(f"paced: {rate} cells/s from {args.concurrency} sessions for "
                  f"{args.paced_seconds:.0f} s, {args.busy_sessions} sessions busy ...",
                  flush=True)
            paced[rate] = asyncio_loop.run_until_complete(
                load.run_paced(rate, args.paced_seconds))
        crossed = sum(s.crossed for s in load.sessions) + load.driver_counts["crossed"]
        stale = sum(s.stale for s in load.sessions) + load.driver_counts["stale"]
        foreign = sum(s.foreign for s in load.sessions) + load.driver_counts["foreign"]
        alive = server.poll() is None
        metrics = metric_lines(base, ["cellbox_kernels{", "cellbox_kernel_deaths_total",
                                      "cellbox_kernel_ooms_total", "cellbox_pool_takes_total",
                                      "cellbox_kernel_restarts_total"])
        print("closing ...", flush=True)
        delete_time = asyncio_loop.run_until_complete(load.close_all())
        asyncio_loop.close()
        report = dict(opened=opened, listed=listed, open_time=open_time, run_time=run_time,
                      latencies=latencies, wrong=wrong, lost=lost, crossed=crossed,
                      stale=stale, foreign=foreign, peak=peak, baseline=baseline, idle=idle,
                      after=after,
                      alive=alive, metrics=metrics, delete_time=delete_time,
                      run_cpu=run_cpu, paced=paced)
    finally:
        stop_server(server, runtime_dir)
        log.close()

    mib = 2 ** 20
    r = report
    n = max(r["opened"], 1)
    cells = len(r["latencies"])
    open_lat = load.open_latencies
    per_kernel_idle = (r["idle"]["kernels_pss"] - r["baseline"]["kernels_pss"]) / n
    per_gateway_idle = (r["idle"]["gateway_pss"] - r["baseline"]["gateway_pss"]) / n
    print()
    print(f"load avg at the end {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f} on {os.cpu_count()} CPUs (other work on the machine)")
    if load.stopped_because:
        print(f"opening stopped early: {load.stopped_because}")
    print()
    print("| measure | value |")
    print("|---|---|")
    print(f"| sessions asked / opened / listed by GET /api/kernels | {args.sessions} / "
          f"{r['opened']} / {r['listed']} |")
    print(f"| open time (POST + WebSocket + first cell, {args.open_concurrency} at a time) | "
          f"{r['open_time']:.1f} s ({r['opened'] / r['open_time']:.1f} sessions/s); "
          f"per session p50 {percentile(open_lat, 0.5) * 1000:.0f} ms, "
          f"p99 {percentile(open_lat, 0.99) * 1000:.0f} ms |")
    print(f"| errors (open + run + delete) | {len(load.errors)} |")
    print(f"| cells run / wrong output / lost / crossed between sessions | {cells} / "
          f"{len(r['wrong'])} / {r['lost']} / {r['crossed']} |")
    print(f"| round trip with {args.concurrency} executing concurrently (peak {r['peak']}), "
          f"p50 / p99 | {percentile(r['latencies'], 0.5) * 1000:.1f} ms / "
          f"{percentile(r['latencies'], 0.99) * 1000:.1f} ms |")
    print(f"| cells per second (run phase) | {cells / r['run_time']:.0f} |")
    machine, client, gateway, kernels = (seconds / max(cells, 1) * 1000
                                         for seconds in r["run_cpu"][:4])
    segments = r["run_cpu"][4] / max(cells, 1)
    most = os.cpu_count() / machine * 1000
    print(f"| whole-machine CPU per cell (run phase): this client / the gateway / kernels and "
          f"the rest | {machine:.2f} ms: {client:.2f} / {gateway:.2f} / "
          f"{machine - client - gateway:.2f} ms; at most {most:.0f} cells/s on "
          f"{os.cpu_count()} CPUs, so {args.concurrency} in flight wait >= "
          f"{args.concurrency / most * 1000:.0f} ms on average |")
    print(f"| process CPU per cell (run phase): gateway / kernels (the gateway's descendants) / "
          f"this client / sum | {gateway:.3f} / {kernels:.3f} / {client:.3f} / "
          f"{gateway + kernels + client:.3f} ms |")
    print(f"| TCP segments sent per cell (run phase, whole machine: both directions of the "
          f"WebSockets on loopback) | {segments:.2f} |")
    for rate, paced in r["paced"].items():
        print(f"| paced: {min(args.concurrency, r['opened'])} sessions, {rate} cells/s in total, "
              f"{args.busy_sessions} sessions running a CPU-bound cell "
              f"({len(paced)} cells), round trip p50 / p99 | "
              f"{percentile(paced, 0.5) * 1000:.1f} ms / "
              f"{percentile(paced, 0.99) * 1000:.1f} ms |")
    print(f"| gateway PSS: before / {r['opened']} idle sessions / after the run | "
          f"{r['baseline']['gateway_pss'] / mib:.1f} / {r['idle']['gateway_pss'] / mib:.1f} / "
          f"{r['after']['gateway_pss'] / mib:.1f} MiB ({per_gateway_idle / 1024:.1f} KiB "
          f"per session) |")
    print(f"| all kernels' PSS: before (zygote + pool) / idle / after the run | "
          f"{r['baseline']['kernels_pss'] / mib:.0f} / {r['idle']['kernels_pss'] / mib:.0f} / "
          f"{r['after']['kernels_pss'] / mib:.0f} MiB |")
    print(f"| kernels' PSS per idle session: (idle - before) / N; idle total / N | "
          f"{per_kernel_idle / mib:.1f} MiB; {r['idle']['kernels_pss'] / n / mib:.1f} MiB |")
    print(f"| kernel processes / threads at idle | {r['idle']['kernels_processes']} / "
          f"{r['idle']['kernels_threads']} |")
    print(f"| gateway threads at idle / after the run | {r['idle']['gateway_threads']} / "
          f"{r['after']['gateway_threads']} |")
    print(f"| MemAvailable before / idle / after the run | "
          f"{r['baseline']['available'] / 2**30:.1f} / {r['idle']['available'] / 2**30:.1f} / "
          f"{r['after']['available'] / 2**30:.1f} GiB |")
    print(f"| delete all sessions | {r['delete_time']:.1f} s |")
    print(f"| gateway alive at the end | {r['alive']} |")
    print()
    print("metrics: " + "; ".join(r["metrics"]))
    if r["foreign"]:
        print(f"note: {r['foreign']} messages on the sessions' WebSockets answered no request "
              "of this client (the gateway's own requests, e.g. kernel_info at start)")
    if r["stale"]:
        print(f"note: {r['stale']} messages answered an earlier request of the same session")
    if load.errors:
        kinds = {}
        for phase, _, text in load.errors:
            kinds.setdefault((phase, text[:80]), 0)
            kinds[(phase, text[:80])] += 1
        print("errors by kind:")
        for (phase, text), count in sorted(kinds.items(), key=lambda kv: -kv[1])[:15]:
            print(f"  {count} x [{phase}] {text}")
    with open(log_path, "rb") as f:
        lines = [line for line in f.read().decode(errors="replace").splitlines()
                 if "level=error" in line or "level=warn" in line or "level=critical" in line]
    print(f"server log: {len(lines)} warn/error lines ({log_path})")
    for line in lines[:15]:
        print("  " + line[:300])
    bad = len(load.errors) or r["wrong"] or r["crossed"] or not r["alive"]
    sys.exit(1 if bad else 0)


def stop_server(server, runtime_dir):
    """Stops the gateway, then any of its kernel processes still alive (by pid)."""
    if server.poll() is None:
        stop_process(server, 60)
    deadline = time.monotonic() + 30
    while True:
        left = kernel_pids(server.pid, runtime_dir)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if left:
        print(f"killed {len(left)} leftover kernel processes", file=sys.stderr)


if __name__ == "__main__":
    main()
