"""Reboot or power off the host. expect: ok"""
expect_syscall_fails("reboot(RESTART)", 169, 0xfee1dead, 672274793, 0x01234567, 0)
expect_syscall_fails("reboot(CAD_OFF)", 169, 0xfee1dead, 672274793, 0, 0)
