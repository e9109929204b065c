"""Mount file systems or pivot out of the root. expect: ok"""
b = lambda s: ctypes.addressof(ctypes.create_string_buffer(s))
expect_syscall_fails("mount tmpfs", 165, b(b"none"), b(b"/tmp"), b(b"tmpfs"), 0, 0)
expect_syscall_fails("umount2 /", 166, b(b"/"), 2)
expect_syscall_fails("pivot_root", 155, b(b"/tmp"), b(b"/tmp"))
expect_syscall_fails("fsopen", 430, b(b"tmpfs"), 0)
expect_syscall_fails("open_tree", 428, -100, b(b"/"), 1)
