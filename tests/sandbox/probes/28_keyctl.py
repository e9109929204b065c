"""Use the kernel keyrings, which are not namespaced. expect: ok"""
expect_syscall_fails("add_key", 248, ctypes.addressof(ctypes.create_string_buffer(b"user")),
                     ctypes.addressof(ctypes.create_string_buffer(b"cellbox")), 0, 0, -2)
expect_syscall_fails("keyctl(KEYCTL_GET_KEYRING_ID)", 250, 0, -3, 0)
expect_syscall_fails("request_key", 249, 0, 0, 0, 0)
