"""The value-stack depth before each instruction of a code object.

3.12 and later do not save the stack pointer when sys.monitoring calls the
instruction hook, so the tracer (src/py/pd_trace.c) asks this: the depth
the compiler guaranteed at each offset, found by following every path
through the code (jumps and exception handlers included) with
dis.stack_effect.  Internal to python-debug."""
import dis

_STOP = {"RETURN_VALUE", "RETURN_CONST", "RAISE_VARARGS", "RERAISE", "JUMP_FORWARD",
         "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT", "JUMP", "JUMP_NO_INTERRUPT",
         "JUMP_ABSOLUTE"}
_JUMPS = set(dis.hasjrel) | set(dis.hasjabs)


def _target(ins):
    t = getattr(ins, "jump_target", None)  # 3.13
    if t is not None:
        return t
    return ins.argval if ins.opcode in _JUMPS else None


def _effect(ins, arg, jump):
    # The generator's frame resumes after RETURN_GENERATOR with the sent
    # value pushed; dis before 3.13 says 0.
    if ins.opname == "RETURN_GENERATOR":
        return 1
    return dis.stack_effect(ins.opcode, arg, jump=jump)


def stack_depths(code):
    """bytes: entry k is the depth before the instruction at offset 2k (255:
    unknown, or no instruction starts there)."""
    insts = list(dis.get_instructions(code))
    out = bytearray(b"\xff" * (len(code.co_code) // 2 + 1))
    if not insts:
        return bytes(out)
    at = {ins.offset: k for k, ins in enumerate(insts)}
    work = [(insts[0].offset, 0)]
    for e in dis._parse_exception_table(code):
        work.append((e.target, e.depth + (1 if e.lasti else 0) + 1))
    seen = {}
    while work:
        off, d = work.pop()
        if off in seen or off not in at or d < 0:
            continue
        seen[off] = d
        k = at[off]
        ins = insts[k]
        arg = ins.arg if ins.opcode >= dis.HAVE_ARGUMENT or ins.arg is not None else None
        t = _target(ins)
        if t is not None:
            try:
                work.append((t, d + _effect(ins, arg, True)))
            except ValueError:
                pass
        if ins.opname not in _STOP and k + 1 < len(insts):
            try:
                work.append((insts[k + 1].offset, d + _effect(ins, arg, False)))
            except ValueError:
                pass
    for off, d in seen.items():
        if d < 255:
            out[off // 2] = d
    return bytes(out)
