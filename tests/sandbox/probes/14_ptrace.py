"""Trace another process, or ourselves. expect: ok"""
PTRACE_TRACEME, PTRACE_ATTACH = 0, 16
expect_syscall_fails("ptrace(PTRACE_ATTACH, 1)", 101, PTRACE_ATTACH, 1, 0, 0)
expect_syscall_fails("ptrace(PTRACE_TRACEME)", 101, PTRACE_TRACEME, 0, 0, 0)
