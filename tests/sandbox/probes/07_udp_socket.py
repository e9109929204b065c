"""Open a UDP socket. expect: ok"""
import socket
expect_oserror("socket(AF_INET, SOCK_DGRAM)", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM), errno.EINVAL)
