"""Open raw devices: disks, memory, the kernel log; create device nodes. expect: ok"""
for device in ["/dev/sda", "/dev/vda", "/dev/nvme0n1", "/dev/mem", "/dev/kmem", "/dev/kmsg", "/dev/port", "/dev/tty0"]:
    expect_oserror(f"open {device}", lambda: open(device, "rb"), errno.ENOENT)
expect_oserror("mknod a disk", lambda: os.mknod("/tmp/disk", 0o600 | 0o060000, os.makedev(8, 0)), errno.EPERM)
expect_oserror("write /dev/null's mount", lambda: open("/dev/evil", "w"), errno.EROFS, errno.EACCES)
