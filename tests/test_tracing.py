"""Interpreter tracing without a rebuild: LLTRACE, CALL_PROFILE and
WITH_TSC, on every interpreter present (the C trace function on 3.11,
sys.monitoring on 3.12+)."""
import collections
import json
import re

import pytest

LINE = re.compile(r"^lltrace: (\S+) (\d+) ([A-Z_0-9]+)(?: (\d+))?  depth=(\?|\d+)(?: \[(.*)\])?$")
TSC = re.compile(r"^opcode=(\d+) t=([01]) inst=(\d{6,}) loop=(\d{6,})$")

# A function with a loop, a branch, a call and a comprehension-free body:
# its traced instructions must be dis's, in an order control flow allows.
WORK = '''
def work(n):
    total = 0
    i = 0
    while i < n:
        if i % 2:
            total += i
        else:
            total -= len("ab")
        i += 1
    return total
'''

DIS_DUMP = '''
import dis, json
def _dis(code):
    out = {}
    insts = list(dis.get_instructions(code))
    for k, ins in enumerate(insts):
        tgt = getattr(ins, "jump_target", None)
        if tgt is None and ins.opcode in set(dis.hasjrel) | set(dis.hasjabs):
            tgt = ins.argval
        nxt = insts[k + 1].offset if k + 1 < len(insts) else None
        out[ins.offset] = [ins.opname, ins.arg, nxt, tgt]
    return out
print(json.dumps(_dis(work.__code__)))
'''


def lltrace_lines(err, code_name=None):
    out = []
    for line in err.splitlines():
        m = LINE.match(line)
        if m and (code_name is None or m.group(1) == code_name):
            out.append((int(m.group(2)), m.group(3), None if m.group(4) is None else int(m.group(4)),
                        m.group(5)))
    return out


def check_against_dis(traced, table):
    assert traced, "no instruction traced"
    prev = None
    for off, name, arg, depth in traced:
        assert str(off) in table, (off, name)
        d_name, d_arg, d_next, d_target = table[str(off)]
        assert name == d_name, (off, name, d_name)
        if d_arg is not None:
            assert arg == d_arg, (off, name, arg, d_arg)
        assert depth != "?", (off, name)
        if prev is not None:
            # Straight on, or a jump: nothing else moves within this frame.
            p_next, p_target = table[str(prev)][2], table[str(prev)][3]
            assert off in (p_next, p_target), (prev, off)
        prev = off


def test_lltrace_lines_match_dis_in_order(run):
    code = WORK + "import pydebug\npydebug.lltrace(True)\nwork(5)\npydebug.lltrace(False)\n" + DIS_DUMP
    r = run(code, "malloc=off")
    assert r.rc == 0, r
    table = json.loads(r.out.strip().splitlines()[-1])
    traced = lltrace_lines(r.err, "work")
    check_against_dis(traced, table)
    # The loop ran 5 times: its condition was traced 6 times.
    compares = [t for t in traced if t[1] == "COMPARE_OP"]
    assert len(compares) == 6, r.err
    # Values are shown without running user code.
    assert any(t[1] == "BINARY_OP" and t[3] == "2" for t in traced)
    stack_shown = [line for line in r.err.splitlines() if line.startswith("lltrace: work ")]
    assert any("'ab'" in line for line in stack_shown), r.err


def test_module_lltrace_marks_only_that_module(run, py, tmp_path):
    """__lltrace__ = True in a module traces its frames; another module's
    frames called from it print nothing."""
    (tmp_path / "quietmod.py").write_text("def quiet(x):\n    return x * 3\n")
    (tmp_path / "main.py").write_text(WORK + "import quietmod\n__lltrace__ = True\n"
                                      "work(3)\nquietmod.quiet(2)\n" + DIS_DUMP)
    r = run(None, "malloc=off", args=[str(tmp_path / "main.py")],
            env={"PYTHONPATH": str(tmp_path)})
    assert r.rc == 0, r
    if py["abiflags"] == "d":
        # A debug build traces __lltrace__ frames itself, on stdout; we
        # stay quiet.
        assert "lltrace:" not in r.err, r
        return
    table = json.loads(r.out.strip().splitlines()[-1])
    check_against_dis(lltrace_lines(r.err, "work"), table)
    assert lltrace_lines(r.err, "quiet") == [], r.err
    names = {line.split()[1] for line in r.err.splitlines() if line.startswith("lltrace: ")}
    # This module's code only (the dis dump's function is defined here too).
    assert {"<module>", "work"} <= names <= {"<module>", "work", "_dis"}, names


def test_no_lltrace_no_lines_no_hook(run, py):
    code = WORK + '''
import sys
work(4)
hooks = [sys.gettrace() is None]
if sys.version_info >= (3, 12):
    hooks.append(all(sys.monitoring.get_tool(t) is None for t in range(6)))
print(hooks)
'''
    r = run(code, "malloc=off")
    assert r.rc == 0, r
    assert "lltrace:" not in r.err and "opcode=" not in r.err, r
    assert r.out.strip() == str([True, True] if py["ver"][:2] >= [3, 12] else [True]), r


def test_lltrace_in_a_thread_started_later(run):
    code = WORK + '''
import pydebug, threading
pydebug.lltrace(True)
t = threading.Thread(target=work, args=(2,))
t.start(); t.join()
pydebug.lltrace(False)
'''
    r = run(code, "malloc=off")
    assert r.rc == 0, r
    assert len(lltrace_lines(r.err, "work")) > 10, r


# CALL_PROFILE -------------------------------------------------------------------

CALLS = '''
import pydebug
def f(x): return x
def kw(x=0): return x
class C:
    def __init__(self): pass
    def m(self): return 1
class Callable:
    def __call__(self): return 2
def g(items):
    for i in items: yield i
N, M, K, G, J, B, O = 10, 7, 5, 4, 3, 6, 2
def mix(n_items, m_items, k_items, g_items, j_items, b_items, o_items):
    for i in n_items: f(i)
    for i in m_items: len("abc")
    for i in k_items: C()
    for v in g(g_items): pass
    obj = C(); bm = obj.m; c = Callable()
    for i in j_items: obj.m()
    for i in b_items: bm()
    for i in o_items: c()
def empty(n_items, m_items, k_items, g_items, j_items, b_items, o_items):
    obj = C(); bm = obj.m; c = Callable()
def delta(fn, *args):
    a = pydebug.callstats(); fn(*args); b = pydebug.callstats()
    return [y - x for x, y in zip(a, b)]
args = [tuple(range(n)) for n in (N, M, K, G, J, B, O)]
pydebug.callstats()
e = delta(empty, *args); m = delta(mix, *args)
print([y - x for x, y in zip(e, m)])
e = delta(kw); m = delta(lambda: kw(x=1))
print([y - x for x, y in zip(e, m)])
'''


def test_callstats_slots(run):
    r = run(CALLS, "malloc=off")
    assert r.rc == 0, r
    lines = r.out.strip().splitlines()
    got = json.loads(lines[-2])
    N, M, K, G, J, B, O = 10, 7, 5, 4, 3, 6, 2
    want = [
        N + M + K + 1 + J + B + O,  # 0 all calls (g(...) is one)
        N + 1 + J + B,              # 1 Python functions
        N + 1 + J + B,              # 2 positional only
        N + 1 + J + B,              # 3 exact arguments
        J,                          # 4 method-form calls
        B,                          # 5 bound method objects
        M,                          # 6 C functions
        K,                          # 7 types
        G + 1,                      # 8 generator starts and resumptions
        O,                          # 9 other callables
        3 * N + 3 * M + 2 * K + 3 + 2 * J + 2 * B + 2 * O,  # 10 values popped
    ]
    assert got == want, (got, want, r)
    # A keyword call is a Python function call off the positional path.
    kw = json.loads(lines[-1])
    assert kw[0] == 1 and kw[1] == 1 and kw[2] == 0 and kw[3] == 0, kw


def test_callstats_at_exit_and_sys_compat(run):
    r = run("import sys; print(sys.callstats())", "malloc=off", "sys-compat", "callstats")
    assert r.rc == 0, r
    t = eval(r.out.strip())
    assert isinstance(t, tuple) and len(t) == 11 and all(isinstance(v, int) for v in t), r
    assert t[0] > 0 and t[6] > 0, t
    m = re.search(r"^python-debug callstats: \((.*)\)$", r.err, re.M)
    assert m and len(m.group(1).split(",")) == 11, r


# WITH_TSC -------------------------------------------------------------------------

def test_settscdump_lines_as_the_seed_shows(run):
    r = run("import sys ; sys.settscdump(True) ; print(42)", "malloc=objects", "sys-compat")
    assert r.rc == 0, r
    assert r.out == "42\n", r
    lines = [l for l in r.err.splitlines() if l]
    assert lines and all(TSC.match(l) for l in lines), r.err


def test_tscstats_counts_equal_traced_instructions(run):
    code = WORK + '''
import json, opcode, pydebug
pydebug.tscstats(reset=True)
pydebug.settscdump(True)
work(30)
pydebug.settscdump(False)
st = pydebug.tscstats()
print(json.dumps({str(v["opcode"]): v["count"] for v in st.values()}))
print(json.dumps({k: [v["count"], v["total"], v["median"], v["p99"]] for k, v in st.items()}))
'''
    r = run(code, "malloc=off")
    assert r.rc == 0, r
    lines = r.out.strip().splitlines()
    counts = json.loads(lines[-2])
    dumped = collections.Counter(m.group(1) for m in map(TSC.match, r.err.splitlines()) if m)
    assert dumped and dict(dumped) == counts, (dumped, counts)
    for name, (count, total, median, p99) in json.loads(lines[-1]).items():
        assert count > 0 and total >= 0 and median <= p99, name


def test_lltrace_and_tsc_see_the_same_instructions(run):
    """-X lltrace and -X tscdump=summary from start to exit: per opcode,
    as many timed instructions as traced lines."""
    r = run(WORK + "work(3)\n", "malloc=off", "lltrace", "tscdump=summary")
    assert r.rc == 0, r
    traced = collections.Counter(m.group(3) for m in map(LINE.match, r.err.splitlines()) if m)
    table = {}
    for line in r.err.splitlines():
        parts = line.split()
        if len(parts) == 7 and parts[0].isupper() and parts[1].isdigit():
            table[parts[0]] = int(parts[1])
    assert traced and table == dict(traced), (table, traced)
    assert re.search(r"^python-debug tscdump: (\d+) instructions", r.err, re.M)


@pytest.mark.parametrize("opt", ["lltrace=maybe", "callstats=2", "tscdump=lines"])
def test_bad_tracing_option(run, opt):
    r = run("pass", opt)
    assert r.rc == 2 and "python-debug: -X " + opt.split("=")[0] in r.err, r
