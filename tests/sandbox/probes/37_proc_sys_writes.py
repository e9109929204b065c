"""Write kernel settings through procfs and sysfs. expect: ok"""
for path in ["/proc/sys/kernel/hostname", "/proc/sys/vm/drop_caches", "/proc/sysrq-trigger", "/proc/sys/kernel/core_pattern"]:
    expect_oserror(f"write {path}", lambda: open(path, "w").write("1"), errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOENT)
expect_oserror("list /sys", lambda: os.listdir("/sys/class"), errno.ENOENT)
