"""Guard pages: each bug of the corpus (tests/ext/pdguard.c) is caught at
the faulting instruction with its allocation and free sites, C and Python;
clean code gets no report; the sampled mode catches a bug as often as its
rate says; pydebug.guarded() fences one block of code.

The corpus runs in one process per mode with -X on_error=continue (each
fault is reported, its page opened, the program goes on) and the JSON
report is checked record by record; one run per interpreter checks that
the default stops at the first fault."""
import json
import math
import signal

import pytest

DOMAINS = {0: "raw", 1: "mem", 2: "object"}

# call, JSON bug name, block size, the function that allocated, freed
# (None: the block was live) and faulted.
RIGHT = [("read_after_free(%d)", "read-after-free", 64, "read_after_free", "read_after_free"),
         ("write_after_free(%d)", "write-after-free", 64, "write_after_free", "write_after_free"),
         ("read_after_realloc(%d)", "read-after-free", 32, "read_after_realloc",
          "read_after_realloc"),
         ("overflow_write(%d)", "overrun", 64, "overflow_write", None),
         ("overflow_read(%d)", "overread", 64, "overflow_read", None)]
LEFT = [("underflow_write(%d)", "underrun", 64, "underflow_write", None),
        ("underflow_read(%d)", "underread", 64, "underflow_read", None)]


def corpus(entries):
    """[(line of the call in the program, call, name, size, domain, fn, freed)]"""
    out = []
    for call, name, size, fn, freed in entries:
        for d, dom in DOMAINS.items():
            out.append((call % d, name, size, dom, fn, freed))
    return [(i + 3,) + c for i, c in enumerate(out)]


def program(cases):
    return "import pdguard\nprint('start', flush=True)\n" + "".join(
        "pdguard.%s\n" % c[1] for c in cases) + "print('end', flush=True)\n"


def frames(stack):
    return [f.split(" ")[0] for f in stack]


def check_record(rec, line, call, name, size, dom, fn, freed, faulted=None):
    where = (call, rec)
    assert rec["bug"] == name, where
    assert rec["detail"].startswith("caught by a guard page at the faulting instruction"), where
    assert rec["block"]["size"] == size and rec["block"]["domain"] == dom, where
    # The faulting instruction is in the function that made the bad access
    # (for the object: in PyObject_Repr, which it called).
    detected = frames(rec["detected"]["c_stack"])
    assert detected[0] == (faulted or fn) and fn in detected[:2], where
    py_line = 'File "<string>", line %d, in <module>' % line
    assert py_line in rec["detected"]["python"][-1], where
    # Allocated (and freed) by that function, called from that line.
    assert fn in frames(rec["allocated"]["c_stack"]), where
    assert rec["allocated"]["python"] == py_line, where
    if freed:
        assert rec["block"]["state"] == "freed", where
        assert freed in frames(rec["freed"]["c_stack"]), where
        assert rec["freed"]["python"] == py_line, where
    else:
        assert rec["block"]["state"] == "live" and "freed" not in rec, where


@pytest.mark.parametrize("mode", [[], ["malloc=off"]], ids=["debug-allocator", "malloc-off"])
@pytest.mark.parametrize("align, entries", [("right", RIGHT), ("left", LEFT)])
def test_corpus_caught_at_the_fault(run, tmp_path, mode, align, entries):
    cases = corpus(entries)
    if align == "right":  # the seed's bug: an int used after its last reference
        cases.append((len(cases) + 3, "object_after_decref()", "read-after-free", 32, "object",
                      "object_after_decref", "object_after_decref", "PyObject_Repr"))
    report = tmp_path / "r.jsonl"
    r = run(program(cases), *mode, "guard=all", "guard_align=" + align, "on_error=continue",
            "report=%s" % report)
    assert r.rc == 66 and "end" in r.out, r
    recs = [json.loads(l) for l in report.read_text().splitlines()]
    assert len(recs) == len(cases), (r, [x["bug"] for x in recs])
    for rec, case in zip(recs, cases):
        check_record(rec, *case)
    if align == "right":
        assert recs[-1]["block"]["type"] == "int", recs[-1]


def test_default_stops_at_the_first_fault(run):
    r = run(program([(3, "read_after_free(1)")]), "guard=all")
    assert r.rc == -signal.SIGABRT, r
    assert "start" in r.out and "end" not in r.out, r
    assert "==python-debug== ERROR: read after free: a freed block was read" in r.err, r
    assert "caught by a guard page at the faulting instruction: a read of" in r.err, r
    assert "64 bytes, serial" in r.err and "domain mem (PyMem_Malloc), freed" in r.err, r
    for part in ("allocated by", "freed by", "detected at"):
        assert "read_after_free (" in r.err.split(part, 1)[1], (part, r)


def test_overflow_into_alignment_slack_found_at_free(run, tmp_path):
    """A 13-byte block ends 3 bytes before its page does: the byte past its
    end is guard bytes, checked when the block is freed."""
    report = tmp_path / "r.jsonl"
    r = run(program([(3, "overflow_slack(1)")]), "guard=all", "on_error=continue",
            "report=%s" % report)
    rec = json.loads(report.read_text())
    assert r.rc == 66 and rec["bug"] == "overrun", r
    assert rec["damage"]["offset"] == 13 and rec["damage"]["found"] == "73", rec
    assert "guarded page" in rec["detail"] and rec["block"]["size"] == 13, rec


@pytest.mark.parametrize("mode", [[], ["malloc=off"]], ids=["debug-allocator", "malloc-off"])
def test_clean_twin_gets_no_report(run, mode):
    r = run("import pdguard, pydebug\nfor i in range(50): pdguard.clean()\n"
            "s = pydebug.guard_stats()\nassert s['guarded'] > 1000, s\nprint('ok')",
            *mode, "guard=all")
    assert r.rc == 0 and r.out == "ok\n" and "==python-debug==" not in r.err, r


def test_guarded_scope_fences_one_block(run):
    code = ("import pdguard, pydebug\n"
            "pdguard.read_after_free(2)\n"   # outside: a read is not seen
            "print('outside', flush=True)\n"
            "with pydebug.guarded():\n"
            "    pdguard.read_after_free(2)\n")
    r = run(code)
    assert "outside" in r.out and r.rc == -signal.SIGABRT, r
    assert "caught by a guard page" in r.err and 'File "<string>", line 5' in r.err, r


def test_sampled_rate_catches_as_often_as_it_says(run, tmp_path):
    """read_after_free, 2000 times under -X guard=20: each allocation is
    guarded with probability 1/20, so about 100 are caught."""
    n, rate = 2000, 20
    report = tmp_path / "r.jsonl"
    r = run("import pdguard\npdguard.read_after_free_loop(%d)\n" % n, "malloc=off",
            "guard=%d" % rate, "on_error=continue", "report=%s" % report, timeout=600)
    recs = [json.loads(l) for l in report.read_text().splitlines()]
    assert r.rc == 66, r
    assert all(x["bug"] == "read-after-free" for x in recs), recs[:3]
    caught = len(recs)
    mean, sd = n / rate, math.sqrt(n / rate * (1 - 1 / rate))
    print("caught %d of %d at rate 1/%d (expected %.0f +- %.1f)" % (caught, n, rate, mean, sd))
    assert abs(caught - mean) < 5 * sd, caught


@pytest.mark.parametrize("opt, says", [
    ("guard=x", "-X guard: expected all, off or a rate N"),
    ("guard=-3", "-X guard: expected all, off or a rate N"),
    ("guard_align=up", "-X guard_align: expected left or right"),
    ("guard_pool=1K", "-X guard_pool: expected a size of at least 64K"),
])
def test_bad_guard_options(run, opt, says):
    r = run("pass", opt)
    assert r.rc == 2 and says in r.err, r
