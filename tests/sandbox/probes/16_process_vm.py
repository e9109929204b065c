"""Copy memory between processes without ptrace. expect: ok"""
expect_syscall_fails("process_vm_readv", 310, 1, 0, 0, 0, 0, 0)
expect_syscall_fails("process_vm_writev", 311, 1, 0, 0, 0, 0, 0)
expect_syscall_fails("pidfd_getfd", 438, 0, 0, 0)
expect_syscall_fails("kcmp", 312, 1, 1, 0, 0, 0)
