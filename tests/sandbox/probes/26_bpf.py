"""Load a BPF program. expect: ok"""
attr = ctypes.create_string_buffer(128)
expect_syscall_fails("bpf(BPF_PROG_LOAD)", 321, 5, ctypes.addressof(attr), 128)
