"""The sandbox helper a confined command is exec'd through (stdlib only, run as a script).

    python -I -S sandbox_exec.py --plan JSON [--status-fd N] -- argv...
    python -I -S sandbox_exec.py --probe

It confines itself, then `execvp`s the command, so the command keeps the helper's pid (and the process
group the runner made). The order matters: the private mount namespace for read-only subpaths first
(it needs mount(2), which Landlock forbids afterwards), then no_new_privs, Landlock, seccomp, chdir
and exec. The plan is computed by `actors.sandbox`:

    {"writable": [abs paths], "read_only": [abs paths], "network": bool,
     "read_only_best_effort": bool, "seccomp_backend": "auto" | "bpf" | "libseccomp", "cwd": dir}

Failures are reported on the status fd as one JSON object and exit 127: `{"kind": "exec", "errno": n}`
when execvp fails, `{"kind": "sandbox", "message": "..."}` when confinement cannot be applied. A
successful exec closes the fd (close-on-exec) without writing. Never run as a `preexec_fn`: this file
runs in its own single-threaded process.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import struct
import sys
import tempfile

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13
FS_TRUNCATE = 1 << 14
FS_IOCTL_DEV = 1 << 15
NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21

# Device files a confined command may still write (redirections to them are everyday shell use).
WRITABLE_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/tty")

AF_UNIX = 1
EPERM = 1

# (audit arch, syscall numbers) per machine. Network sockets other than AF_UNIX are refused; the calls
# that reach a listening socket (even a Unix one, such as a container daemon's) are refused outright;
# io_uring and ptrace are refused because they bypass or inspect around the filter.
_ARCHES = {
    "x86_64": {
        "audit": 0xC000003E,
        "socket": 41,
        "socketpair": 53,
        "deny": {"connect": 42, "accept": 43, "bind": 49, "listen": 50, "accept4": 288, "ptrace": 101,
                 "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427},
        "x32_bit": 0x40000000,
    },
    "aarch64": {
        "audit": 0xC00000B7,
        "socket": 198,
        "socketpair": 199,
        "deny": {"bind": 200, "listen": 201, "accept": 202, "connect": 203, "accept4": 242, "ptrace": 117,
                 "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427},
        "x32_bit": None,
    },
}


class SandboxFailure(Exception):
    """Confinement could not be applied; the command must not run."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _os_error(what: str) -> SandboxFailure:
    err = ctypes.get_errno()
    return SandboxFailure(f"{what}: {os.strerror(err)} (os error {err})")


def landlock_abi() -> int:
    abi = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                        ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    return int(abi) if abi > 0 else 0


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def set_no_new_privs() -> None:
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise _os_error("prctl(PR_SET_NO_NEW_PRIVS)")


def apply_landlock(writable: list[str], network: bool) -> None:
    """Read and execute everywhere; every right beneath the writable paths; TCP refused when offline."""
    abi = landlock_abi()
    if abi < 1:
        raise SandboxFailure("Landlock is not supported by this kernel")
    handled = _fs_rights(abi)
    attr = _RulesetAttr(handled_access_fs=handled)
    size = 8
    if abi >= 4:
        size = 16
        if not network:
            attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
    fd = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        raise _os_error("landlock_create_ruleset")
    try:
        file_rights = handled & (FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV)
        _add_path_rule(fd, "/", FS_EXECUTE | FS_READ_FILE | FS_READ_DIR, required=True)
        for path in [*writable, *WRITABLE_DEVICES]:
            if os.path.isdir(path):
                _add_path_rule(fd, path, handled, required=False)
            elif os.path.exists(path):
                _add_path_rule(fd, path, file_rights, required=False)
        if _libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(fd), ctypes.c_uint32(0)) != 0:
            raise _os_error("landlock_restrict_self")
    finally:
        os.close(fd)


def _add_path_rule(ruleset_fd: int, path: str, access: int, *, required: bool) -> None:
    try:
        pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError as exc:
        if required:
            raise SandboxFailure(f"cannot open {path} for a Landlock rule: {exc.strerror}") from exc
        return
    try:
        rule = _PathBeneathAttr(allowed_access=access, parent_fd=pfd)
        if _libc.syscall(SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset_fd), ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH),
                         ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
            raise _os_error(f"landlock_add_rule({path})")
    finally:
        os.close(pfd)


def _arch() -> dict:
    machine = platform.machine()
    spec = _ARCHES.get(machine)
    if spec is None:
        raise SandboxFailure(f"no seccomp network filter for architecture {machine}")
    return spec


def build_bpf_filter() -> bytes:
    """A classic-BPF seccomp program (sock_filter array) refusing network access with EPERM."""
    spec = _arch()
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | EPERM
    # Instructions as (code, jump-true label, jump-false label, k); labels resolve to relative offsets.
    prog: list[tuple[int, str | None, str | None, int]] = [
        (ld_abs, None, None, 4),  # seccomp_data.arch
        (jeq, None, "deny", spec["audit"]),
        (ld_abs, None, None, 0),  # seccomp_data.nr
    ]
    if spec["x32_bit"] is not None:
        prog.append((jge, "deny", None, spec["x32_bit"]))
    prog.append((jeq, "domain", None, spec["socket"]))
    prog.append((jeq, "domain", None, spec["socketpair"]))
    for number in spec["deny"].values():
        prog.append((jeq, "deny", None, number))
    prog.append((ret, None, None, allow))
    labels = {"domain": len(prog)}
    prog.append((ld_abs, None, None, 16))  # low half of seccomp_data.args[0]
    prog.append((jeq, "allow", "deny", AF_UNIX))
    labels["allow"] = len(prog)
    prog.append((ret, None, None, allow))
    labels["deny"] = len(prog)
    prog.append((ret, None, None, deny))
    out = bytearray()
    for index, (code, jt, jf, k) in enumerate(prog):
        rel_t = labels[jt] - index - 1 if jt else 0
        rel_f = labels[jf] - index - 1 if jf else 0
        out += struct.pack("=HBBI", code, rel_t, rel_f, k)
    return bytes(out)


def apply_seccomp_bpf() -> None:
    program = build_bpf_filter()
    buffer = ctypes.create_string_buffer(program, len(program))

    class _Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = _Fprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    if _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise _os_error("prctl(PR_SET_SECCOMP)")


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def _load_libseccomp() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError:
        return None


def apply_seccomp_libseccomp(lib: ctypes.CDLL) -> None:
    """The same rules as `build_bpf_filter`, compiled by libseccomp (which also refuses foreign arches)."""
    spec = _arch()
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    deny = 0x00050000 | EPERM
    ctx = lib.seccomp_init(0x7FFF0000)
    if not ctx:
        raise SandboxFailure("seccomp_init failed")
    try:
        ne_unix = _ArgCmp(arg=0, op=1, datum_a=AF_UNIX, datum_b=0)  # SCMP_CMP_NE
        for number in (spec["socket"], spec["socketpair"]):
            rc = lib.seccomp_rule_add_array(ctx, deny, number, 1, ctypes.byref(ne_unix))
            if rc != 0:
                raise SandboxFailure(f"seccomp_rule_add failed: {os.strerror(-rc)}")
        for number in spec["deny"].values():
            rc = lib.seccomp_rule_add_array(ctx, deny, number, 0, None)
            if rc != 0:
                raise SandboxFailure(f"seccomp_rule_add failed: {os.strerror(-rc)}")
        rc = lib.seccomp_load(ctx)
        if rc != 0:
            raise SandboxFailure(f"seccomp_load failed: {os.strerror(-rc)}")
    finally:
        lib.seccomp_release(ctx)


def apply_seccomp(backend: str) -> None:
    lib = _load_libseccomp() if backend in ("auto", "libseccomp") else None
    if backend == "libseccomp" and lib is None:
        raise SandboxFailure("libseccomp is not installed")
    if lib is not None:
        apply_seccomp_libseccomp(lib)
    else:
        apply_seccomp_bpf()


def _write_file(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _mount(source: str | None, target: str | None, flags: int) -> None:
    src = source.encode() if source is not None else None
    dst = target.encode() if target is not None else None
    if _libc.mount(src, dst, None, ctypes.c_ulong(flags), None) != 0:
        raise _os_error(f"mount({target})")


def _enter_private_mount_namespace() -> None:
    if _libc.unshare(CLONE_NEWNS) != 0:
        # Without CAP_SYS_ADMIN a user namespace grants it for the new mount namespace only. The
        # identity map keeps the same uid, so the exec'd command holds no capabilities at all.
        uid, gid = os.getuid(), os.getgid()
        if _libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
            raise _os_error("unshare(CLONE_NEWUSER|CLONE_NEWNS)")
        _write_file("/proc/self/setgroups", "deny")
        _write_file("/proc/self/uid_map", f"{uid} {uid} 1")
        _write_file("/proc/self/gid_map", f"{gid} {gid} 1")
    _mount(None, "/", MS_REC | MS_PRIVATE)


def _locked_flags(path: str) -> int:
    # A remount in a user namespace must keep the flags inherited from the outer mount.
    flag = os.statvfs(path).f_flag
    pairs = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
             (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME))
    return sum(ms for st, ms in pairs if flag & st)


def bind_read_only(paths: list[str]) -> None:
    """Make each path read-only inside a private mount namespace (Landlock can only grant, never carve out)."""
    _enter_private_mount_namespace()
    for path in paths:
        _mount(path, path, MS_BIND | MS_REC)
        _mount(None, path, MS_BIND | MS_REMOUNT | MS_RDONLY | _locked_flags(path))


def confine(plan: dict) -> None:
    read_only = [p for p in plan.get("read_only", []) if os.path.lexists(p)]
    if read_only:
        try:
            bind_read_only(read_only)
        except (SandboxFailure, OSError) as exc:
            if not plan.get("read_only_best_effort"):
                raise SandboxFailure(f"cannot keep {', '.join(read_only)} read-only: {exc}") from exc
    set_no_new_privs()
    apply_landlock(list(plan.get("writable", [])), bool(plan.get("network")))
    if not plan.get("network"):
        apply_seccomp(str(plan.get("seccomp_backend", "auto")))


def probe() -> dict:
    """What this kernel supports, checked by doing it (in this throwaway process)."""
    result: dict = {"landlock_abi": landlock_abi(), "seccomp": False, "libseccomp": _load_libseccomp() is not None,
                    "read_only_mounts": False, "errors": []}
    scratch = tempfile.mkdtemp(prefix="codex-sandbox-probe-")
    try:
        try:
            bind_read_only([scratch])
            try:
                with open(os.path.join(scratch, "w"), "w"):
                    pass
                result["errors"].append("read-only bind mount stayed writable")
            except OSError:
                result["read_only_mounts"] = True
        except (SandboxFailure, OSError) as exc:
            result["errors"].append(f"read-only mounts: {exc}")
        try:
            set_no_new_privs()
            apply_seccomp("bpf")
            result["seccomp"] = True
        except SandboxFailure as exc:
            result["errors"].append(f"seccomp: {exc}")
    finally:
        try:
            os.rmdir(scratch)
        except OSError:
            pass
    return result


def _report(status_fd: int | None, payload: dict) -> None:
    if status_fd is not None:
        try:
            os.write(status_fd, json.dumps(payload).encode())
        except OSError:
            pass
    else:
        sys.stderr.write(f"codex sandbox: {payload}\n")


def main(args: list[str]) -> int:
    if args == ["--probe"]:
        sys.stdout.write(json.dumps(probe()))
        return 0
    plan: dict | None = None
    status_fd: int | None = None
    while args and args[0] != "--":
        flag, value, args = args[0], args[1] if len(args) > 1 else "", args[2:]
        if flag == "--plan":
            plan = json.loads(value)
        elif flag == "--status-fd":
            status_fd = int(value)
        else:
            sys.stderr.write(f"sandbox_exec: unknown option {flag}\n")
            return 2
    argv = args[1:]
    if plan is None or not argv:
        sys.stderr.write("usage: sandbox_exec.py --plan JSON [--status-fd N] -- argv...\n")
        return 2
    if status_fd is not None:
        os.set_inheritable(status_fd, False)
    try:
        confine(plan)
        if plan.get("cwd"):
            # Again after the mounts, so a cwd inside a read-only subpath sees the read-only mount.
            os.chdir(plan["cwd"])
    except (SandboxFailure, OSError) as exc:
        _report(status_fd, {"kind": "sandbox", "message": str(exc)})
        return 127
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        _report(status_fd, {"kind": "exec", "errno": exc.errno or 0})
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
