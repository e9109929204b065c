"""chroot, the classic way out of a chroot. expect: ok"""
expect_oserror("chroot /tmp", lambda: os.chroot("/tmp"), errno.EPERM)
