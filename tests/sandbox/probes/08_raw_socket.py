"""Open a raw IP socket. expect: ok"""
import socket
expect_oserror("socket(AF_INET, SOCK_RAW)", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP), errno.EINVAL)
