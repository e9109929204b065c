"""Open a TCP socket. expect: ok"""
import socket
expect_oserror("socket(AF_INET, SOCK_STREAM)", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM), errno.EINVAL)
expect_oserror("socket(AF_INET6, SOCK_STREAM)", lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM), errno.EINVAL)
