"""Write through a submount of a read-only bind (every submount must be read-only too). expect: ok"""
mounts = [line.split()[4] for line in open("/proc/self/mountinfo")]
submounts = [m for m in mounts if m.startswith("/usr/") or m.startswith("/etc/")]
for mount in submounts or ["/usr/share"]:
    target = os.path.join(mount, "evil") if os.path.isdir(mount) else mount
    expect_oserror(f"write {target}", lambda: open(target, "a").write("x"), errno.EROFS, errno.EACCES)
