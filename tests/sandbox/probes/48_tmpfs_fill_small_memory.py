"""Fill /tmp, then /dev/shm, under a small memory limit. expect: ok
limits: --memory 192M
Both are tmpfs charged to the session's memory cgroup: sized from the limit (a quarter, an
eighth), filling them gives ENOSPC instead of the OOM killer."""
def fill(path):
    with open(path, "wb") as f:
        chunk = b"x" * 2**20
        for _ in range(1024):
            f.write(chunk)
            f.flush()
for path in ("/tmp/fill", "/dev/shm/fill"):
    expect_oserror(f"fill {os.path.dirname(path)} under 192 MiB", lambda: fill(path), errno.ENOSPC)
    os.unlink(path)
