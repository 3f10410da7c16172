"""The device allow list on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program.

v2 has no devices.allow file: the kernel asks a BPF program attached to the cgroup
(BPF_CGROUP_DEVICE) whether an access (mknod, read, write) to a device is allowed, as
runc and crun do. `program` compiles rules in v1's devices.allow syntax ("c 1:3 rwm",
"b *:* m", "a") into raw BPF instructions; `attach` loads it with the bpf syscall and
attaches it to a cgroup folder. The attachment lives as long as the cgroup does.
"""

from __future__ import annotations

import ctypes
import os
import struct

BPF_SYSCALL = {"x86_64": 321, "aarch64": 280, "arm64": 280}
BPF_PROG_LOAD, BPF_PROG_ATTACH = 5, 8
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
# struct bpf_cgroup_dev_ctx: access_type = (access << 16) | type, then major, minor
DEV_BLOCK, DEV_CHAR = 1, 2
ACC = {"m": 1, "r": 2, "w": 4}

# instruction opcodes (linux/bpf_common.h, linux/bpf.h)
LDX_W = 0x61      # dst = *(u32 *)(src + off)
AND32_K = 0x54    # dst &= imm (32 bit)
RSH32_K = 0x74    # dst >>= imm (32 bit)
MOV64_X = 0xBF    # dst = src
MOV64_K = 0xB7    # dst = imm
JNE_K = 0x55      # if dst != imm: pc += off
EXIT = 0x95


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, dst | (src << 4), off, imm)


def parse(rule: str) -> tuple[int, int, int, int]:
    """(type, major, minor, access) of a devices.allow rule; 0 type or -1 number: any."""
    kind, _, rest = rule.partition(" ")
    if kind == "a":
        return 0, -1, -1, 7
    numbers, _, access = rest.partition(" ")
    major, _, minor = numbers.partition(":")
    bits = sum(ACC[c] for c in set(access or "rwm"))
    return ({"c": DEV_CHAR, "b": DEV_BLOCK}[kind], -1 if major == "*" else int(major),
            -1 if minor == "*" else int(minor), bits)


def program(rules: list[str]) -> bytes:
    """Allow (return 1) what one of `rules` allows, deny (0) everything else."""
    code = [
        _insn(LDX_W, 2, 1, 0),       # r2 = access_type
        _insn(AND32_K, 2, imm=0xFFFF),  # r2: device type
        _insn(LDX_W, 3, 1, 0),
        _insn(RSH32_K, 3, imm=16),   # r3: requested access
        _insn(LDX_W, 4, 1, 4),       # r4: major
        _insn(LDX_W, 5, 1, 8),       # r5: minor
    ]
    for rule in rules:
        kind, major, minor, access = parse(rule)
        block = []
        if kind:
            block.append((JNE_K, 2, kind))
        if access != 7:  # the request must lie inside the allowed bits: (r3 & ~allowed) == 0
            block += [(MOV64_X, 1, 3), (AND32_K, 1, ~access & 7), (JNE_K, 1, 0)]
        if major >= 0:
            block.append((JNE_K, 4, major))
        if minor >= 0:
            block.append((JNE_K, 5, minor))
        for i, (op, dst, imm) in enumerate(block):
            if op == MOV64_X:
                code.append(_insn(op, dst, src=imm))
            elif op == JNE_K:  # to the next rule: past what is left of this block
                code.append(_insn(op, dst, off=len(block) - i - 1 + 2, imm=imm))
            else:
                code.append(_insn(op, dst, imm=imm))
        code += [_insn(MOV64_K, 0, imm=1), _insn(EXIT)]
    code += [_insn(MOV64_K, 0, imm=0), _insn(EXIT)]
    return b"".join(code)


def _bpf(cmd: int, attr: bytes) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    nr = BPF_SYSCALL.get(os.uname().machine)
    if nr is None:
        raise OSError(f"no bpf syscall number known for {os.uname().machine}")
    buf = ctypes.create_string_buffer(attr, len(attr))
    ret = libc.syscall(ctypes.c_long(nr), ctypes.c_int(cmd), buf, ctypes.c_uint(len(attr)))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bpf({cmd}): {os.strerror(err)}")
    return int(ret)


def load(rules: list[str]) -> int:
    """The program's file descriptor (the caller closes it)."""
    insns = ctypes.create_string_buffer(program(rules))
    license = ctypes.create_string_buffer(b"Apache")
    log = ctypes.create_string_buffer(1 << 16)
    # union bpf_attr for BPF_PROG_LOAD: prog_type, insn_cnt, insns, license, log_level,
    # log_size, log_buf, kern_version, prog_flags, prog_name[16]; the rest zero
    attr = struct.pack("<IIQQIIQII16s", BPF_PROG_TYPE_CGROUP_DEVICE, len(insns.raw) // 8,
                       ctypes.addressof(insns), ctypes.addressof(license), 1, len(log),
                       ctypes.addressof(log), 0, 0, b"stackup_devices")
    try:
        return _bpf(BPF_PROG_LOAD, attr.ljust(128, b"\0"))
    except OSError as exc:
        detail = log.value.decode(errors="replace").strip()
        raise OSError(exc.errno, f"{exc.strerror}: {detail}" if detail else exc.strerror) from None


def attach(cgroup_dir: str, rules: list[str]) -> None:
    """Let the processes of the cgroup at `cgroup_dir` use only the devices `rules` allow."""
    prog = load(rules)
    try:
        target = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            # target_fd, attach_bpf_fd, attach_type, attach_flags (0: the only program)
            _bpf(BPF_PROG_ATTACH, struct.pack("<IIII", target, prog, BPF_CGROUP_DEVICE,
                                              0).ljust(128, b"\0"))
        finally:
            os.close(target)
    finally:
        os.close(prog)
