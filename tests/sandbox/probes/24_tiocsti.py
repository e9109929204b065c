"""Push keystrokes into the operator's terminal (TIOCSTI), also with high bits set. expect: ok"""
import fcntl, termios
for fd in (0, 1, 2):
    for request in (termios.TIOCSTI, termios.TIOCSTI | (1 << 32)):
        expect_syscall_fails(f"ioctl({fd}, {request:#x})", 16, fd, request, ctypes.addressof(ctypes.c_char(b"x")))
expect_oserror("open /dev/tty", lambda: open("/dev/tty"), errno.ENOENT, errno.ENXIO)
