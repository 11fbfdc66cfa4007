"""The student process's syscall filter: the calls a submission never needs, refused.

    program, why_not = compile_filter()   # a classic BPF program (bytes), or None + why

The program is compiled here, in the grader, by libseccomp (libseccomp.so.2: the C
library that systemd, Docker and podman build their filters with; Debian's libseccomp2,
present wherever systemd is), through ctypes, for this machine's architecture; calls
of another architecture's ABI (32-bit calls on x86_64) kill the process. It travels to
the student process as data, where child/jail.py loads it last, with seccomp(2) on every
thread, after everything the worker itself needs is set up: no library is needed there.
Each refused call fails with EPERM ("Operation not permitted"), so a submission that
tries one gets an ordinary Python exception. Where libseccomp is missing, there is no
filter, and isolation.warn_unfiltered says so once, with what to install.
"""
import ctypes
import errno
import os
import socket
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

# name -> why a submission never needs it (the README lists these groups)
REFUSED = {
    **dict.fromkeys(("socket", "socketcall"), "the protocol runs on pipes: no network, "
                    "no unix socket (an abstract one reaches the host without a file)"),
    **dict.fromkeys(("ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
                     "kcmp"), "another process's memory, registers or files"),
    **dict.fromkeys(("io_uring_setup", "io_uring_enter", "io_uring_register"),
                    "io_uring runs calls this filter would not see"),
    **dict.fromkeys(("mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
                     "open_tree", "move_mount", "fsopen", "fsmount", "fsconfig", "fspick",
                     "mount_setattr"), "namespaces and mounts: the sandbox's own shape"),
    **dict.fromkeys(("bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key",
                     "request_key", "init_module", "finit_module", "delete_module",
                     "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff",
                     "syslog", "acct", "quotactl", "settimeofday", "clock_settime",
                     "clock_adjtime", "adjtimex", "sethostname", "setdomainname", "iopl",
                     "ioperm", "name_to_handle_at", "open_by_handle_at", "lookup_dcookie",
                     "fanotify_init"), "the kernel's administration and rarer surfaces"),
}
# clone with a namespace flag (its flags are argument 0 except on s390): refused too;
# clone3 (whose flags live in memory a filter cannot read): ENOSYS, glibc then uses clone
NAMESPACE_FLAGS = (0x20000, 0x4000000, 0x8000000, 0x10000000, 0x20000000, 0x40000000,
                   0x02000000)  # NEWNS, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWCGROUP
JAIL = Path(__file__).resolve().parent / "child" / "jail.py"  # loads it
TIOCSTI = 0x5412  # push characters into a terminal's input
SCMP_ACT_ALLOW, SCMP_ACT_ERRNO = 0x7FFF0000, 0x00050000
SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ = 4, 7


class _ArgCmp(ctypes.Structure):  # struct scmp_arg_cmp
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def library():
    """libseccomp (ctypes), or None."""
    for name in ("libseccomp.so.2", None):  # the soname first: find_library runs ldconfig
        if name is None:
            from ctypes.util import find_library
            name = find_library("seccomp")
        if name:
            try:
                return ctypes.CDLL(name, use_errno=True)
            except OSError:
                continue
    return None


@lru_cache(maxsize=None)
def compile_filter() -> tuple[bytes | None, str]:
    """(the BPF program, '') or (None, why there is none here)."""
    if not os.path.isdir("/proc/self"):
        return None, "not Linux"
    lib = library()
    if lib is None:
        return None, ("libseccomp is not installed (Debian/Ubuntu: apt-get install "
                      "libseccomp2; Fedora: dnf install libseccomp)")
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        return None, "libseccomp could not make a filter (seccomp_init)"
    try:
        _add_rules(lib, ctx)
        with tempfile.TemporaryFile() as f:
            if lib.seccomp_export_bpf(ctx, f.fileno()) != 0:
                return None, "libseccomp could not export the filter"
            f.seek(0)
            return f.read(), ""
    finally:
        lib.seccomp_release(ctx)


@lru_cache(maxsize=None)
def program_hex() -> tuple[str | None, str]:
    """(the program as hex for the student process's settings, '') where it compiles
    and loads here (tried once, in a throwaway fork of this process), else (None, why)."""
    program, why = compile_filter()
    if program is None:
        return None, why
    status = _try(program)
    if status != 0:
        return None, f"the kernel refused the filter (probe status {status})"
    return program.hex(), ""


def _try(program: bytes) -> int:
    """0 when a fork of this process loads the program and is then refused a socket."""
    sys.path.insert(0, str(JAIL.parent))
    try:
        import jail  # child/jail.py, as the student process imports it
    finally:
        sys.path.remove(str(JAIL.parent))
    pid = os.fork()
    if pid == 0:  # only system calls until _exit: safe in a fork of a threaded process
        code = 3
        try:
            jail.load_filter(program)
            code = 5
            socket.socket(socket.AF_UNIX).close()
        except PermissionError:
            code = 0
        except BaseException:  # noqa: BLE001
            pass
        os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _add_rules(lib, ctx) -> None:
    refuse = SCMP_ACT_ERRNO | errno.EPERM

    def rule(name: str, action: int, *conditions) -> None:
        number = lib.seccomp_syscall_resolve_name(name.encode())
        if number == -1:  # __NR_SCMP_ERROR: no such call on this architecture
            return
        array = (_ArgCmp * max(len(conditions), 1))(*conditions)
        if lib.seccomp_rule_add_array(ctx, action, number, len(conditions), array) != 0 \
                and number >= 0:
            raise OSError(f"libseccomp refused the rule for {name}")
    for name in REFUSED:
        rule(name, refuse)
    for flag in NAMESPACE_FLAGS:
        rule("clone", refuse, _ArgCmp(0, SCMP_CMP_MASKED_EQ, flag, flag))
    rule("clone3", SCMP_ACT_ERRNO | errno.ENOSYS)
    rule("ioctl", refuse, _ArgCmp(1, SCMP_CMP_EQ, TIOCSTI, 0))
