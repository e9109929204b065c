"""Read another session's work directory by its host path (passed as argv[1]). expect: ok"""
expect_oserror("list the other session's directory", lambda: os.listdir(sys.argv[1]), errno.ENOENT)
expect_oserror("read its secret", lambda: open(sys.argv[1] + "/secret.txt").read(), errno.ENOENT)
