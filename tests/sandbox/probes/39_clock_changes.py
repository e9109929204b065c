"""Change the host's clock. expect: ok"""
timespec = (ctypes.c_long * 2)(0, 0)
expect_syscall_fails("clock_settime", 227, 0, ctypes.addressof(timespec))
expect_syscall_fails("settimeofday", 164, ctypes.addressof(timespec), 0)
expect_syscall_fails("adjtimex", 159, ctypes.addressof(ctypes.create_string_buffer(256)))
