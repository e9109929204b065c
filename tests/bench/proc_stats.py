"""What the benchmarks read of processes and of the machine from /proc: memory (PSS, RSS,
MemAvailable), CPU time, threads, a gateway's kernel processes."""

import os

from bench_util import process_table


def mem_available():
    for line in open("/proc/meminfo"):
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def kernel_pids(server_pid, runtime_dir):
    """Descendants of the gateway, and every process naming its runtime dir (zygote,
    supervisors, inits, kernels, sandbox launchers); not the gateway itself."""
    table = process_table()
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    pids, todo = set(), [server_pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in pids:
                pids.add(child)
                todo.append(child)
    needle = runtime_dir.rstrip("/") + "/"
    pids |= {pid for pid, (_, cmd) in table.items() if needle in cmd}
    pids.discard(server_pid)
    return pids


def smaps(pids, field="Pss:"):
    total = 0
    for pid in pids:
        try:
            for line in open(f"/proc/{pid}/smaps_rollup"):
                if line.startswith(field):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def busy_cpu_seconds():
    """CPU time spent on the whole machine so far (all CPUs, idle and iowait excluded)."""
    fields = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def processes_cpu(pids):
    """CPU seconds so far of the processes `pids` that are still alive (all their threads)."""
    total = 0.0
    for pid in pids:
        try:
            total += process_cpu_seconds(pid)
        except (OSError, IndexError):
            pass
    return total


def cpu_split(server_pid):
    """(whole machine, this client, the gateway) CPU seconds so far."""
    mine = os.times()
    return busy_cpu_seconds(), mine.user + mine.system, process_cpu_seconds(server_pid)


def thread_count(pids):
    n = 0
    for pid in pids:
        try:
            n += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            pass
    return n


def tcp_segments_sent():
    """TCP segments the machine has sent so far (/proc/net/snmp's Tcp OutSegs): on loopback,
    both directions of every connection; each one is a transmit and a receive in the kernel."""
    with open("/proc/net/snmp") as f:
        lines = [line.split() for line in f if line.startswith("Tcp:")]
    return int(lines[1][lines[0].index("OutSegs")])


def kernel_scheduling(pids, make_normal):
    """Counts the threads of `pids` by scheduling policy; with `make_normal`, first sets the
    SCHED_BATCH ones (the sessions' own, from the sandbox policy) to SCHED_OTHER, as a policy
    saying scheduling = "normal" would have launched them."""
    names = {os.SCHED_OTHER: "other", os.SCHED_BATCH: "batch", os.SCHED_IDLE: "idle"}
    counts = {}
    for pid in pids:
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue
        for tid in tids:
            try:
                policy = os.sched_getscheduler(tid)
                if make_normal and policy == os.SCHED_BATCH:
                    os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
                    policy = os.sched_getscheduler(tid)
            except OSError:
                continue
            name = names.get(policy, str(policy))
            counts[name] = counts.get(name, 0) + 1
    return counts
