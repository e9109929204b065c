"""Open a perf event (a long source of kernel bugs). expect: ok"""
attr = ctypes.create_string_buffer(128)
expect_syscall_fails("perf_event_open", 298, ctypes.addressof(attr), 0, -1, -1, 0)
