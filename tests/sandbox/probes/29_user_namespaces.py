"""Create namespaces to gain capabilities inside them. expect: ok"""
CLONE_NEWUSER, CLONE_NEWNS, SIGCHLD = 0x10000000, 0x00020000, 17
expect_syscall_fails("unshare(CLONE_NEWUSER)", 272, CLONE_NEWUSER)
expect_syscall_fails("unshare(CLONE_NEWNS)", 272, CLONE_NEWNS)
expect_syscall_fails("clone(CLONE_NEWUSER)", 56, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)
expect_syscall_fails("setns", 308, 0, 0)
expect_syscall_fails("clone3", 435, 0, 0, errnos=(errno.ENOSYS,))
pid = os.fork()  # plain fork and threads still work
if pid == 0:
    os._exit(0)
report(os.waitpid(pid, 0)[1] == 0, "plain fork still works", "yes")
