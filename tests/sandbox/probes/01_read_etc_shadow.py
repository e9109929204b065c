"""Read the host's password hashes. expect: ok"""
expect_oserror("read /etc/shadow", lambda: open("/etc/shadow").read(), errno.ENOENT)
