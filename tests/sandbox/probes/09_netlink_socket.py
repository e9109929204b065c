"""Open a netlink socket (routing tables, audit, ...). expect: ok"""
import socket
expect_oserror("socket(AF_NETLINK)", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0), errno.EINVAL)
