"""Open packet, VSOCK and kernel-crypto sockets. expect: ok"""
import socket
for family in (socket.AF_PACKET, 40, 38):  # AF_PACKET, AF_VSOCK, AF_ALG
    expect_oserror(f"socket(family {family})", lambda: socket.socket(family, socket.SOCK_RAW, 0), errno.EINVAL)
# The family compared on all 64 bits: high bits must not sneak AF_INET through.
expect_syscall_fails("socket(AF_INET | 1<<32) raw", 41, (1 << 32) | 2, 1, 0, errnos=(errno.EINVAL,))
