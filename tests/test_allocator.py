"""The debug allocator: every bug class is reported, with the block and the
allocating (and freeing) C function and Python line; clean code is not.

Each bug is committed by the compiled test extension tests/ext/pdbuggy.c,
called from line 3 of the program below, so reports must name both."""
import json
import signal

import pytest

PROGRAM = """import pdbuggy
print("before", flush=True)
pdbuggy.{call}
print("after", flush=True)
"""
PY_LINE = 'File "<string>", line 3, in <module>'

# call, title in the report, block size, domain, allocating C function,
# freeing C function (None: the block was live), json bug name
BUGS = [
    ("overrun(1)", "buffer overrun", 24, "mem", "overrun", None, "overrun"),
    ("overrun(0)", "buffer overrun", 24, "raw", "overrun", None, "overrun"),
    ("overrun(2)", "buffer overrun", 24, "object", "overrun", None, "overrun"),
    ("underrun(1)", "buffer underrun", 32, "mem", "underrun", None, "underrun"),
    ("double_free(1)", "double free", 40, "mem", "double_free", "double_free", "double-free"),
    ("double_free(2)", "double free", 40, "object", "double_free", "double_free", "double-free"),
    ("invalid_free(1)", "free of a pointer that was never allocated", 64, "mem", "invalid_free", None, "invalid-free"),
    ("wrong_domain()", "block freed through the wrong allocator domain", 48, "mem", "wrong_domain", None, "wrong-domain"),
    ("realloc_freed(1)", "realloc of a freed block", 16, "mem", "realloc_freed", "realloc_freed",
     "realloc-of-freed"),
    ("write_after_free(1)", "write after free", 56, "mem", "write_after_free",
     "write_after_free", "write-after-free"),
    ("write_after_free(0)", "write after free", 56, "raw", "write_after_free",
     "write_after_free", "write-after-free"),
    ("stale_after_realloc(1)", "write after free", 32, "mem", "stale_after_realloc",
     "stale_after_realloc", "write-after-free"),
]

# Bugs detected at the next free or realloc are reported while line 3 runs;
# writes after free are found when the block leaves the quarantine or at the
# latest by the check at exit.
DETECTED_NOW = {"overrun", "underrun", "double-free", "invalid-free", "wrong-domain",
                "realloc-of-freed"}


def check_heap_after(call):
    return PROGRAM.format(call=call) + "import pydebug\npydebug.check_heap()\n"


@pytest.mark.parametrize("bug", BUGS, ids=[b[0] for b in BUGS])
def test_bug_is_reported_and_aborts(run, bug):
    call, title, size, domain, alloc_fn, free_fn, name = bug
    r = run(check_heap_after(call))
    assert r.rc == -signal.SIGABRT, r
    assert "==python-debug== ERROR: " + title in r.err, r
    assert "%d bytes" % size in r.err and "serial " in r.err, r
    assert "domain %s" % domain in r.err, r
    # the allocating site: C function of the extension, and Python line
    alloc = r.err.split("allocated by", 1)[1]
    assert "C caller:  %s (" % alloc_fn in alloc and "pdbuggy.c:" in alloc, r
    assert PY_LINE in alloc, r
    if free_fn:
        freed = r.err.split("freed by", 1)[1]
        assert "C caller:  %s (" % free_fn in freed, r
        assert PY_LINE in freed, r
    assert "before" in r.out and "after" not in r.out or name not in DETECTED_NOW, r


@pytest.mark.parametrize("bug", BUGS, ids=[b[0] for b in BUGS])
def test_bug_json_report_and_continue(run, bug, tmp_path):
    call, title, size, domain, alloc_fn, free_fn, name = bug
    report = tmp_path / "report.jsonl"
    r = run(check_heap_after(call), "on_error=continue", "report=%s" % report)
    assert r.rc == 66, r          # errors make the exit status non-zero
    assert "after" in r.out, r    # and the program kept running
    lines = [json.loads(l) for l in report.read_text().splitlines()]
    assert [l["bug"] for l in lines] == [name], lines
    rec = lines[0]
    assert rec["block"]["size"] == size and rec["block"]["domain"] == domain
    assert rec["allocated"]["c_caller"].startswith(alloc_fn + " (")
    assert rec["allocated"]["python"] == PY_LINE
    if free_fn:
        assert rec["freed"]["c_caller"].startswith(free_fn + " (")
    assert rec["detected"]["c_stack"], rec


def test_damage_bytes_are_shown(run):
    r = run(PROGRAM.format(call="overrun(1)"))
    assert "damage: 1 byte at offset 24 (just past the end): 41" in r.err, r
    r = run(PROGRAM.format(call="underrun(1)"))
    assert "damage: 2 bytes at offset -2 (2 bytes before the start): 55 55" in r.err, r


def test_invalid_free_of_stack_pointer(run):
    r = run(PROGRAM.format(call="invalid_free_stack(1)"))
    assert r.rc == -signal.SIGABRT, r
    assert "never allocated" in r.err and "the pointer is in a thread stack" in r.err, r
    assert "invalid_free_stack (" in r.err, r


def test_seed_access_after_free_is_named(run):
    """The seed's example: PyObject_Print of a freed int.  A PYMALLOC_DEBUG
    build prints the freed fill as its reference count (<refcnt -26042...
    at 0x...>) and goes on; here the freed int keeps a mortal count and the
    type "freed object", so PyObject_Print calls the freed type's repr,
    which names the bug at once, with both sites."""
    r = run(PROGRAM.format(call="access_after_free()"))
    assert r.rc == -signal.SIGABRT, r
    assert "==python-debug== ERROR: use of a freed object" in r.err, r
    assert "detected by: tp_repr(" in r.err and "it was a 'int'" in r.err, r
    alloc, freed = r.err.split("allocated by")[1].split("freed by")
    assert "access_after_free (" in alloc and "access_after_free (" in freed, r
    assert PY_LINE in alloc and PY_LINE in freed, r


def test_object_used_after_free_is_named(run):
    r = run(PROGRAM.format(call="access_after_free_repr()"))
    assert r.rc == -signal.SIGABRT, r
    assert "==python-debug== ERROR: use of a freed object" in r.err, r
    assert "freed, object of type int" in r.err, r
    used = r.err.split("used by", 1)[1].split("allocated by", 1)[0]
    assert "C caller:  access_after_free_repr (" in used and PY_LINE in used, r
    alloc = r.err.split("allocated by", 1)[1]
    assert "C caller:  access_after_free_repr (" in alloc, r  # who made the int
    assert "freed by" in r.err, r


def test_object_write_after_free_names_type_and_function(run):
    r = run(check_heap_after("object_write_after_free()"))
    assert r.rc == -signal.SIGABRT, r
    assert "write after free" in r.err and "object of type bytes" in r.err, r
    assert "C caller:  object_write_after_free (" in r.err, r


def test_clean_twin_gets_no_report(run):
    r = run(check_heap_after("clean()") + "print(pydebug.check_heap())\n")
    assert r.rc == 0, r
    assert "==python-debug==" not in r.err, r
    assert r.out.split() == ["before", "after", "0"], r


def test_threads_all_domains_clean(run):
    r = run(check_heap_after("threads(4, 20000)") + "print(pydebug.allocator_stats()['errors'])\n")
    assert r.rc == 0, r
    assert "==python-debug==" not in r.err, r
    assert r.out.split()[-1] == "0", r


STEP_ASIDE = """import _pydebug, pdbuggy, pydebug
def counts():
    d = _pydebug.allocator_stats()["domains"]
    return {k: (d[k]["allocs"], d[k]["frees"]) for k in d}
old = [bytearray(100) for _ in range(2000)]
grown = list(range(10))
_pydebug._step_aside()
before = counts()
new = [bytes(50) + b"x" for _ in range(2000)]
grown.extend(range(100000))   # a block of ours, resized after stepping aside
del old                        # blocks of ours, freed after it
pdbuggy.threads(4, 20000)      # every domain, from other threads too
del new, grown
after = counts()
print(_pydebug.allocator_stats()["aside"], pydebug.check_heap())
print(all(after[k][0] - before[k][0] < 100 for k in after),
      after["object"][1] - before["object"][1] >= 2000)
"""


def test_step_aside(run):
    """After _step_aside() (the xdist controller's), new blocks are the
    interpreter's own: our counts of allocations stay still; ours are still
    resized and freed by us, and nothing is reported."""
    r = run(STEP_ASIDE)
    assert r.rc == 0, r
    assert "==python-debug==" not in r.err, r
    assert r.out.split() == ["True", "0", "True", "True"], r


STEP_IN = """import gc, sys, _pydebug, pdleaky, pydebug
_pydebug._step_aside()
class Old:                       # a heap type made while aside
    pass
olds = [Old() for _ in range(500)]
big = bytearray(b"x" * 4000)      # a large block of theirs
held = object()
gc.collect()
adopted = _pydebug._step_in()
st = _pydebug.allocator_stats()
print("adopted", adopted > 500, st["adopted_objects"] == adopted, st["aside"])
new = Old()                      # ours, of a type of theirs: still recognised
print("found", any(o is new for o in _pydebug.getobjects(0, Old)),
      len(_pydebug.getobjects(0, Old)))
def grows(f):
    t0 = _pydebug.gettotalrefcount()
    f()
    return _pydebug.gettotalrefcount() - t0
nothing = lambda: None
five = lambda: pdleaky.leak(held, 5)   # five references leaked to an adopted object
grows(nothing), grows(five)
print("refs", grows(five) - grows(nothing))
def freed():
    d = _pydebug.allocator_stats()["domains"]
    return d["object"]["foreign_frees"] + d["mem"]["foreign_frees"]
f0 = freed()
del olds, big
gc.collect()
print("theirs freed", freed() - f0 >= 501, _pydebug.allocator_stats()["adopted_objects"] <= adopted - 501)
print("errors", pydebug.check_heap(), _pydebug.allocator_stats()["errors"])
"""


def test_step_in(run):
    """After _step_aside() then _step_in() (the leak hunter's start-up and
    collection): the objects the interpreter's allocator made meanwhile are
    adopted, so a reference total counts a reference to one of them and a
    new instance of a class made aside is recognised; their blocks are
    freed there, counted as foreign frees, and leave the adopted; nothing
    is reported."""
    r = run(STEP_IN)
    assert r.rc == 0, r
    assert "==python-debug==" not in r.err, r
    assert r.out.split() == ["adopted", "True", "True", "False", "found", "True", "501",
                             "refs", "5", "theirs", "freed", "True", "True", "errors", "0", "0"], r


def test_allocator_off(run):
    r = run(PROGRAM.format(call="clean()") + "import pydebug; print(pydebug.active)\n",
            "malloc=off")
    assert r.rc == 0 and r.out.split()[-1] == "0", r


def test_pymalloc_off_still_detects(run):
    r = run(PROGRAM.format(call="overrun(2)"), "pymalloc=off")
    assert r.rc == -signal.SIGABRT and "buffer overrun" in r.err, r


def test_quarantine_size_bounds_detection(run):
    """The quarantine keeps a freed block from being reused: with one, a
    write through a stale pointer after many same-size allocations is
    caught; with none, the freed slot was handed out again at once and the
    write landed in a live block, which nothing can tell from a legal one."""
    prog = check_heap_after("write_after_reuse(200)")
    assert "write after free" in run(prog, "quarantine=1M").err
    assert "write after free" not in run(prog, "quarantine=0").err


def test_stacks_option_records_full_backtraces(run):
    prog = ("import pdbuggy\n"
            "def outer():\n"
            "    inner()\n"
            "def inner():\n"
            "    pdbuggy.double_free(1)\n"
            "outer()\n")
    r = run(prog, "stacks=8")
    assert "C stack:" in r.err, r
    assert r.err.count("double_free (") >= 3, r
    alloc = r.err.split("allocated by", 1)[1].split("freed by", 1)[0]
    tb = alloc.split("Python traceback (most recent call last):", 1)[1]
    want = ['File "<string>", line 6, in <module>', 'File "<string>", line 3, in outer',
            'File "<string>", line 5, in inner']
    positions = [tb.find(w) for w in want]
    assert -1 not in positions and positions == sorted(positions), r


def test_mallocstats(run):
    r = run("import pydebug; pydebug.mallocstats()")
    assert r.rc == 0, r
    assert "blocks in use" in r.err and "# quarantine:" in r.err, r
    assert "# times object malloc called" in r.err or "Small block threshold" in r.err, r
    r = run("x = [bytes(200) for i in range(20000)]", env={"PYTHONMALLOCSTATS": "1"})
    assert r.err.count("python-debug allocator") >= 2, r   # one per new arena + exit


def test_site_in_module_code_that_died(run, tmp_path):
    """The block is allocated by a module's top-level code, whose code
    object is gone by the time the exit check finds the damage: the report
    still names the module's file and line."""
    (tmp_path / "buggymod.py").write_text(
        "import pdbuggy\n\n# line 3\npdbuggy.write_after_free(1)\n")
    r = run("import buggymod", "on_error=continue", cwd=tmp_path,
            env={"PYTHONPATH": str(tmp_path)})
    assert "write after free" in r.err, r
    alloc = r.err.split("allocated by", 1)[1]
    assert 'buggymod.py", line 4, in <module>' in alloc, r


@pytest.mark.parametrize("sig", ["SIGFPE", "SIGBUS", "SIGABRT"])
def test_fatal_signal_report(run, sig):
    """Any fatal signal gets a report with every thread's Python traceback,
    then dies of that signal, as python would."""
    prog = ("import os, signal, threading\n"
            "def boom():\n"
            "    os.kill(os.getpid(), signal.%s)\n"
            "boom()\n" % sig)
    r = run(prog)
    assert r.rc == -getattr(signal, sig), r
    assert "==python-debug== ERROR: fatal signal" in r.err, r
    assert "Python threads at the crash" in r.err, r
    assert 'File "<string>", line 3, in boom' in r.err, r
