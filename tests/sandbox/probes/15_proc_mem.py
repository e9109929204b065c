"""Read and write another process's memory through /proc (pid 1 is the sandbox init). expect: ok"""
expect_oserror("open /proc/1/mem", lambda: open("/proc/1/mem", "rb"), errno.EACCES, errno.EPERM)
expect_oserror("read /proc/1/environ", lambda: open("/proc/1/environ").read(), errno.EACCES, errno.EPERM)
expect_oserror("follow /proc/1/root", lambda: os.listdir("/proc/1/root"), errno.EACCES, errno.EPERM)
