"""The cgroup v1 release_agent escape (CVE-2022-0492): mount cgroupfs and set a host command. expect: ok"""
expect_oserror("find /sys/fs/cgroup", lambda: os.listdir("/sys/fs/cgroup"), errno.ENOENT)
b = lambda s: ctypes.addressof(ctypes.create_string_buffer(s))
os.makedirs("/tmp/cg", exist_ok=True)
expect_syscall_fails("mount cgroup (rdma)", 165, b(b"cgroup"), b(b"/tmp/cg"), b(b"cgroup"), 0, b(b"rdma"))
cgroup_mounts = [line for line in open("/proc/self/mountinfo") if " - cgroup" in line]
report(not cgroup_mounts, "any cgroup file system mounted", f"{len(cgroup_mounts)} mounts")
