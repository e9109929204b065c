"""The host around users' /work filesystems: whether it can have them at all (a root gateway,
loop devices, e2fsprogs), and whether a gateway left a mount or a loop device behind."""

import os
import pathlib
import shutil
import time


def quota_unavailable_reason():
    """Why this host cannot have per-user /work quotas (loop-mounted ext4 images), or None."""
    if os.geteuid() != 0:
        return "per-user /work quotas need a root gateway (the tests run unprivileged)"
    if not os.path.exists("/dev/loop-control"):
        return "this host has no loop devices (/dev/loop-control)"
    if not shutil.which("mkfs.ext4", path="/usr/sbin:/sbin:/usr/bin:/bin"):
        return "e2fsprogs (mkfs.ext4) is not installed"
    return None


def _unescape(field):
    # /proc/self/mountinfo writes space, tab, newline and backslash as octal escapes.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mounts_under(path):
    """Mount points at or below `path` in this mount namespace (/proc/self/mountinfo)."""
    root = os.path.realpath(path)
    found = []
    with open("/proc/self/mountinfo") as table:
        for line in table:
            point = _unescape(line.split()[4])
            if point == root or point.startswith(root + "/"):
                found.append(point)
    return found


def loop_devices_under(path):
    """Loop devices bound to a file at or below `path` (what `losetup -a` lists)."""
    root = os.path.realpath(path)
    found = []
    for device in pathlib.Path("/sys/block").glob("loop*"):
        try:
            backing = (device / "loop" / "backing_file").read_text().strip()
        except OSError:
            continue  # not bound
        if backing.startswith(root + "/"):
            found.append(f"/dev/{device.name} ({backing})")
    return found


def leftovers(path, seconds=30):
    """What is still mounted or bound under `path` once it had `seconds` to go: the kernel
    unbinds an auto-clearing loop device asynchronously after its last unmount. [] when
    clean."""
    deadline = time.monotonic() + seconds
    while True:
        found = mounts_under(path) + loop_devices_under(path)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
