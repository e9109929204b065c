"""List root's home directory and its SSH keys. expect: ok"""
expect_oserror("list /root", lambda: os.listdir("/root"), errno.ENOENT)
expect_oserror("read /root/.ssh/id_rsa", lambda: open("/root/.ssh/id_rsa").read(), errno.ENOENT)
