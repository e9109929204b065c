"""Set up io_uring, whose operations bypass seccomp. expect: ok"""
params = ctypes.create_string_buffer(120)
expect_syscall_fails("io_uring_setup", 425, 8, ctypes.addressof(params))
