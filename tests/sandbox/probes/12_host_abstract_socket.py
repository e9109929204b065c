"""Connect to an abstract unix socket the host listens on (name in argv[1]). expect: ok"""
import socket
def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("\0" + sys.argv[1])
expect_oserror("connect to the host's abstract socket", connect, errno.ECONNREFUSED)
