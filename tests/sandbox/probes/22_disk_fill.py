"""Write one huge file into the persistent work directory. expect: ok"""
def write_huge():
    with open("/work/huge", "wb") as f:
        f.seek(2 * 2**30)
        f.write(b"x")
expect_oserror("write past the file-size limit", write_huge, errno.EFBIG)
if os.path.exists("/work/huge"):
    os.unlink("/work/huge")
