"""The v2 device program's decisions, by running its instructions on sample requests
(the kernel runs the same program in the VM tier, tests/vm)."""

import struct

import pytest

from stackup.engine.runtime import devfilter
from stackup.engine.runtime.cgroups import DEVICE_ALLOW


def decide(program: bytes, kind: str, major: int, minor: int, access: str) -> int:
    """A tiny interpreter for the instructions `devfilter.program` emits."""
    ctx = ((sum(devfilter.ACC[c] for c in access) << 16)
           | {"c": devfilter.DEV_CHAR, "b": devfilter.DEV_BLOCK}[kind], major, minor)
    reg = [0] * 11
    insns = [struct.unpack("<BBhi", program[i:i + 8]) for i in range(0, len(program), 8)]
    pc = 0
    while True:
        code, regs, off, imm = insns[pc]
        dst, src = regs & 0xF, regs >> 4
        pc += 1
        if code == devfilter.LDX_W:
            reg[dst] = ctx[off // 4]
        elif code == devfilter.AND32_K:
            reg[dst] = (reg[dst] & imm) & 0xFFFFFFFF
        elif code == devfilter.RSH32_K:
            reg[dst] = (reg[dst] & 0xFFFFFFFF) >> imm
        elif code == devfilter.MOV64_X:
            reg[dst] = reg[src]
        elif code == devfilter.MOV64_K:
            reg[dst] = imm
        elif code == devfilter.JNE_K:
            pc += off if reg[dst] != imm else 0
        elif code == devfilter.EXIT:
            return reg[0]
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


DOCKER = devfilter.program(DEVICE_ALLOW)


@pytest.mark.parametrize("request_, allowed", [
    (("c", 1, 3, "rw"), 1),     # /dev/null
    (("c", 1, 3, "m"), 1),
    (("c", 136, 7, "rw"), 1),   # a pty, any minor
    (("c", 10, 200, "rwm"), 1),  # /dev/net/tun
    (("c", 1, 11, "m"), 1),     # any char node may be made ("c *:* m")...
    (("c", 1, 11, "w"), 0),     # ...but not opened unless listed (/dev/kmsg)
    (("b", 8, 0, "m"), 1),
    (("b", 8, 0, "r"), 0),      # no disk
    (("c", 1, 1, "rw"), 0),     # /dev/mem
    (("c", 5, 1, "rwm"), 1),    # /dev/console
    (("c", 10, 201, "r"), 0),
])
def test_dockers_default_list(request_, allowed):
    assert decide(DOCKER, *request_) == allowed


def test_a_rule_allows_no_more_access_than_it_names():
    prog = devfilter.program(["c 4:64 r"])
    assert decide(prog, "c", 4, 64, "r") == 1
    assert decide(prog, "c", 4, 64, "rw") == 0
    assert decide(prog, "c", 4, 64, "m") == 0
    assert decide(prog, "b", 4, 64, "r") == 0


def test_all_and_nothing():
    assert decide(devfilter.program(["a"]), "b", 8, 1, "rwm") == 1
    assert decide(devfilter.program([]), "c", 1, 3, "r") == 0


def test_parse():
    assert devfilter.parse("c *:* m") == (devfilter.DEV_CHAR, -1, -1, 1)
    assert devfilter.parse("b 8:* rw") == (devfilter.DEV_BLOCK, 8, -1, 6)
