"""What the suites need to know about the host they run on, found out on the host itself.

CI machines differ from developers' (another Linux kernel, other boot options): a test whose
outcome depends on a host property asks here, and adapts its expectation or skips with the
reason, instead of passing or failing by luck. Each fact is measured once per test process.
"""

import functools
import pathlib
import signal
import subprocess

PROBES = pathlib.Path(__file__).parent / "probes"
CGROUP_ROOT = pathlib.Path("/sys/fs/cgroup")


def classify_foreign_abi_run(returncode, stdout):
    """What the host did with a probe's foreign-ABI system call (int 0x80, x32) run outside any
    sandbox: "runs" when the call came back (with a result or an error such as ENOSYS: the
    call was dispatched, so a sandbox's seccomp filter sees it first), else the name of the
    signal the host's own kernel raised (a general protection fault is SIGSEGV where 32-bit
    system calls are disabled at run time, ia32_emulation=0)."""
    if returncode == 0 and "returned" in stdout:
        return "runs"
    if returncode < 0:
        return signal.Signals(-returncode).name
    raise RuntimeError(f"the host probe neither ran nor faulted: exit {returncode}, {stdout!r}")


@functools.lru_cache(maxsize=None)
def foreign_abi_outcome(probe_name):
    """Runs the probe's machine code on the host, outside any sandbox (it only asks for its own
    pid), and classifies what happened."""
    prelude = (PROBES / "_prelude.py").read_text()
    code = (PROBES / probe_name).read_text()
    result = subprocess.run(["/usr/bin/python3", "-c", prelude + code], capture_output=True,
                            text=True, timeout=30)
    return classify_foreign_abi_run(result.returncode, result.stdout)


def expected_verdict(probe_name, declared):
    """The verdict a contained probe gets on this host: `declared` (its docstring's) unless the
    probe is marked host-dependent and the host faults the call itself, in which case the
    sandbox reports the host's signal. Returns (verdict, signal name or None, why)."""
    doc = (PROBES / probe_name).read_text().split('"""')[1]
    if "host: foreign-abi" not in doc:
        return declared, None, ""
    outcome = foreign_abi_outcome(probe_name)
    if outcome == "runs":
        return declared, None, "host runs the call"
    return "signal", outcome, f"host faults the call ({outcome})"


def session_cgroup_bases():
    """Where the sandbox makes its per-session cgroups: <controller>/cellbox for each cgroup v1
    controller, <root>/cellbox on a cgroup v2-only host, unified/cellbox on a hybrid one."""
    bases = [CGROUP_ROOT / "cellbox"]
    if CGROUP_ROOT.is_dir():
        bases += [child / "cellbox" for child in CGROUP_ROOT.iterdir() if child.is_dir()]
    return [base for base in bases if base.is_dir()]




@functools.lru_cache(maxsize=None)
def idmapped_mount_problem(directory):
    """Why an idmapped mount of `directory` cannot be made on this host (its filesystem lacks
    FS_ALLOW_IDMAP — tmpfs before Linux 6.3, overlayfs before 5.19 —, no root, no mount API),
    or None when it can. Asks the kernel the way the sandbox does: a detached clone of the
    directory (open_tree) given a user namespace's mapping (mount_setattr MOUNT_ATTR_IDMAP); the
    clone is never attached anywhere, so nothing on the host changes."""
    import ctypes
    import os
    if os.geteuid() != 0:
        return "idmapped mounts need root"
    libc = ctypes.CDLL(None, use_errno=True)
    holder = subprocess.Popen(["unshare", "--user", "sleep", "60"])
    tree = -1
    try:
        for name in ("uid_map", "gid_map"):
            _write_when_ready(f"/proc/{holder.pid}/{name}", "0 100000 1\n")
        userns = os.open(f"/proc/{holder.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        open_tree, mount_setattr = 428, 442  # x86_64 system call numbers
        tree = libc.syscall(open_tree, -100, directory.encode(), 1 | os.O_CLOEXEC)
        if tree < 0:
            return f"open_tree({directory}): {os.strerror(ctypes.get_errno())}"

        class MountAttr(ctypes.Structure):
            _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                        ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]

        attr = MountAttr(0x00100000, 0, 0, userns)  # MOUNT_ATTR_IDMAP
        result = libc.syscall(mount_setattr, tree, b"", 0x1000, ctypes.byref(attr),  # AT_EMPTY_PATH
                              ctypes.sizeof(attr))
        error = ctypes.get_errno()
        os.close(userns)
        if result != 0:
            return f"no idmapped mount of {directory} on this host: {os.strerror(error)}"
        return None
    finally:
        if tree >= 0:
            os.close(tree)
        holder.kill()
        holder.wait()


def _write_when_ready(path, text):
    """Writes a map of a process that `unshare` is still creating (its namespace may not be
    there for a moment)."""
    import time
    deadline = time.monotonic() + 5
    while True:
        try:
            with open(path, "w") as f:
                f.write(text)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
