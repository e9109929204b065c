"""Make a 32-bit system call with int 0x80 (another syscall table). expect: seccomp
host: foreign-abi (where the host faults int 0x80 itself, ia32_emulation=0, the verdict is its signal)"""
import mmap
code = bytes([0xB8, 0x14, 0x00, 0x00, 0x00, 0xCD, 0x80, 0xC3])  # mov eax, 20 (getpid); int 0x80; ret
page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(code)
function = ctypes.CFUNCTYPE(ctypes.c_long)(ctypes.addressof(ctypes.c_char.from_buffer(page)))
print("ESCAPED int 0x80 getpid returned", function(), flush=True)
