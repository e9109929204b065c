"""Write into system directories. expect: ok"""
for path in ["/usr/bin/evil", "/etc/evil", "/evil", "/lib/evil", "/usr/lib/python3/dist-packages/evil.py"]:
    expect_oserror(f"create {path}", lambda: open(path, "w").write("x"), errno.EROFS, errno.EACCES)
expect_oserror("chmod /usr/bin/python3", lambda: os.chmod("/usr/bin/python3", 0o777), errno.EROFS, errno.EPERM)
