"""Fill /tmp (a size-capped tmpfs), then /dev/shm. expect: ok"""
def fill(path):
    with open(path, "wb") as f:
        chunk = b"x" * 2**20
        for _ in range(4096):
            f.write(chunk)
            f.flush()
expect_oserror("fill /tmp", lambda: fill("/tmp/fill"), errno.ENOSPC)
os.unlink("/tmp/fill")
expect_oserror("fill /dev/shm", lambda: fill("/dev/shm/fill"), errno.ENOSPC)
