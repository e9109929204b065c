"""Rename the host; ask for executable data pages; userfaultfd; open files by handle. expect: ok"""
expect_syscall_fails("sethostname", 170, ctypes.addressof(ctypes.create_string_buffer(b"pwned")), 5)
expect_syscall_fails("personality(READ_IMPLIES_EXEC)", 135, 0x0400000)
expect_syscall_fails("userfaultfd", 323, 0)
expect_syscall_fails("open_by_handle_at", 304, 0, 0, 0)
report(os.uname().nodename == "cellbox", "hostname", os.uname().nodename)
