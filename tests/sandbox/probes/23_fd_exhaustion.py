"""Open descriptors until the host runs out. expect: ok"""
opened = []
try:
    while len(opened) < 100000:
        opened.append(os.open("/dev/null", os.O_RDONLY))
    report(False, "open 100000 descriptors", "all opened")
except OSError as e:
    report(e.errno == errno.EMFILE and len(opened) < 2000, "open descriptors", f"stopped at {len(opened)}")
