"""Load kernel modules, kexec a new kernel, manage swap. expect: ok"""
expect_syscall_fails("init_module", 175, 0, 0, 0)
expect_syscall_fails("finit_module", 313, 0, 0, 0)
expect_syscall_fails("delete_module", 176, 0, 0)
expect_syscall_fails("kexec_load", 246, 0, 0, 0, 0)
expect_syscall_fails("swapoff", 168, ctypes.addressof(ctypes.create_string_buffer(b"/swap")))
