"""Reference-count bugs, named as such on every interpreter: a freed
object keeps a poison (a mortal count and the type "freed object"), so a
Py_DECREF or Py_INCREF through a stale reference moves the count, which the
checks of freed blocks report, and any other use goes through the freed
type, which reports at once.

Each bug is committed by tests/ext/pdrefs.c; every case has a clean twin
(the same steps done right) that must get no report.  The victim is a str
the extension's `victim` made, so the block's allocating C function is
`victim`; the freeing one is the function whose release let it die."""
import json
import signal

import pytest

PY_LINE = 'File "<string>", line 3, in <module>'

# case: (line 3 of the program, its clean twin, freeing C function).  The
# program's line 4 drops what line 3 kept, line 5 checks the heap.
RELEASES = {
    "list item": ("keep = [pdrefs.victim()]; pdrefs.borrowed_list_item(keep)",
                  "keep = [pdrefs.victim()]; pdrefs.borrowed_list_item(keep, True)",
                  "borrowed_list_item"),
    "dict value": ("keep = {'key': pdrefs.victim()}; pdrefs.borrowed_dict_value(keep)",
                   "keep = {'key': pdrefs.victim()}; pdrefs.borrowed_dict_value(keep, True)",
                   "borrowed_dict_value"),
    "tuple item": ("keep = (pdrefs.victim(),); pdrefs.borrowed_tuple_item(keep)",
                   "keep = (pdrefs.victim(),); pdrefs.borrowed_tuple_item(keep, True)",
                   "borrowed_tuple_item"),
    "argument": ("keep = None; pdrefs.borrowed_argument(pdrefs.victim())",
                 "keep = None; pdrefs.borrowed_argument_clean(pdrefs.victim())",
                 "borrowed_argument"),
    "released twice": ("keep = pdrefs.released_twice()",
                       "keep = pdrefs.released_twice(True)", "released_twice"),
    "stolen by PyList_SetItem": ("keep = pdrefs.stolen_setitem(False)",
                                 "keep = pdrefs.stolen_setitem(False, True)", "stolen_setitem"),
    "stolen by PyTuple_SetItem": ("keep = pdrefs.stolen_setitem(True)",
                                  "keep = pdrefs.stolen_setitem(True, True)", "stolen_setitem"),
}

PROGRAM = """import pdrefs, pydebug
print("before", flush=True)
{line}
del keep
print("checking", flush=True)
pydebug.check_heap()
print("after", flush=True)
"""

OVER = "reference released after the object was freed (over-released reference)"
TAKEN = "reference taken to a freed object"
USE = "use of a freed object"


def sites(err):
    alloc = err.split("  allocated by", 1)[1].split("  freed by", 1)[0]
    freed = err.split("  freed by", 1)[1].split("  detected at", 1)[0]
    return alloc, freed


def assert_block(r, free_fn):
    assert "domain object (PyObject_Malloc), freed, object of type str" in r.err, r
    alloc, freed = sites(r.err)
    assert "C caller:  victim (" in alloc and "pdrefs.c:" in alloc, r
    assert PY_LINE in alloc, r
    assert "C caller:  %s (" % free_fn in freed, r
    assert PY_LINE in freed, r


@pytest.mark.parametrize("case", sorted(RELEASES))
def test_over_release_is_named(run, case):
    bad, _, free_fn = RELEASES[case]
    r = run(PROGRAM.format(line=bad))
    assert r.rc == -signal.SIGABRT, r
    assert "==python-debug== ERROR: " + OVER in r.err, r
    assert "1 more reference released than taken" in r.err, r
    assert_block(r, free_fn)
    assert "checking" in r.out and "after" not in r.out, r


@pytest.mark.parametrize("case", sorted(RELEASES))
def test_over_release_clean_twin(run, case):
    _, clean, _ = RELEASES[case]
    r = run(PROGRAM.format(line=clean))
    assert r.rc == 0, r
    assert "==python-debug==" not in r.err, r
    assert r.out.split() == ["before", "checking", "after"], r


def test_over_release_json_and_continue(run, tmp_path):
    report = tmp_path / "r.jsonl"
    r = run(PROGRAM.format(line=RELEASES["list item"][0]), "on_error=continue",
            "report=%s" % report)
    assert r.rc == 66 and "after" in r.out, r
    recs = [json.loads(l) for l in report.read_text().splitlines()]
    assert [x["bug"] for x in recs] == ["over-released-reference"], recs
    rec = recs[0]
    assert rec["references"] == -1 and rec["block"]["type"] == "str", rec
    assert rec["allocated"]["c_caller"].startswith("victim (")
    assert rec["freed"]["c_caller"].startswith("borrowed_list_item (")


def test_over_release_found_at_exit(run):
    """No check_heap in the program: the check at exit finds it."""
    r = run("import pdrefs\nkeep = [pdrefs.victim()]\npdrefs.borrowed_list_item(keep)\n"
            "del keep\n")
    assert r.rc == -signal.SIGABRT, r
    assert OVER in r.err and "C caller:  borrowed_list_item (" in r.err, r


def test_incref_of_freed_object(run, tmp_path):
    report = tmp_path / "r.jsonl"
    r = run(PROGRAM.format(line="keep = None; pdrefs.incref_freed()"), "on_error=continue",
            "report=%s" % report)
    assert r.rc == 66, r
    assert "==python-debug== ERROR: " + TAKEN in r.err, r
    assert "1 reference taken after the object's last release" in r.err, r
    assert_block(r, "incref_freed")
    rec = json.loads(report.read_text().splitlines()[0])
    assert rec["bug"] == "reference-to-freed-object" and rec["references"] == 1, rec


def test_incref_of_freed_object_clean_twin(run):
    r = run(PROGRAM.format(line="keep = None; pdrefs.incref_freed(True)"))
    assert r.rc == 0 and "==python-debug==" not in r.err, r


SLOTS = [("repr", "tp_repr", "repr()"), ("str", "tp_str", "str()"),
         ("getattr", "tp_getattro", "attribute access"), ("call", "tp_call", "a call"),
         ("iter", "tp_iter", "iter()"), ("compare", "tp_richcompare", "a comparison"),
         ("hash", "tp_hash", "hash()"), ("len", "sq_length", "len()"),
         ("getitem", "mp_subscript", "item access"), ("dealloc", "tp_dealloc", "deallocation")]


@pytest.mark.parametrize("slot", SLOTS, ids=[s[0] for s in SLOTS])
def test_use_through_each_slot_reported_at_once(run, slot):
    name, api, what = slot
    r = run(PROGRAM.format(line="keep = None; pdrefs.use_after_release(%r)" % name))
    assert r.rc == -signal.SIGABRT, r
    assert "==python-debug== ERROR: " + USE in r.err, r
    assert "detected by: %s(0x" % api in r.err, r
    assert "%s of an object freed while" % what in r.err and "it was a 'str'" in r.err, r
    used = r.err.split("  used by", 1)[1].split("  allocated by", 1)[0]
    assert "C caller:  use_after_release (" in used and PY_LINE in used, r
    assert_block(r, "use_after_release")
    assert "checking" not in r.out, r  # at once, at the faulting call


@pytest.mark.parametrize("slot", SLOTS, ids=[s[0] for s in SLOTS])
def test_use_through_each_slot_clean_twin(run, slot):
    r = run(PROGRAM.format(line="keep = None; pdrefs.use_after_release(%r, True)" % slot[0]))
    assert r.rc == 0 and "==python-debug==" not in r.err, r


def test_use_continues_with_system_error(run, tmp_path):
    report = tmp_path / "r.jsonl"
    code = ("import pdrefs\ntry:\n    pdrefs.use_after_release('repr')\n"
            "except SystemError as e:\n    print('caught', e)\n")
    r = run(code, "on_error=continue", "report=%s" % report)
    assert r.rc == 66, r
    assert "caught repr() of a freed object (a 'str' when it was freed)" in r.out, r
    rec = json.loads(report.read_text().splitlines()[0])
    assert rec["bug"] == "freed-object-use" and rec["api"] == "tp_repr", rec
    assert rec["used"]["c_caller"].startswith("use_after_release ("), rec
    assert rec["freed"]["c_caller"].startswith("use_after_release ("), rec


def test_use_from_python_names_the_line(run):
    """The holder is a list; Python prints it: the use is list_repr's, at
    the print's line, and the object's last release is the extension's."""
    code = ("import pdrefs\nkeep = [pdrefs.victim()]\npdrefs.borrowed_list_item(keep)\n"
            "print(keep)\n")
    r = run(code)
    assert r.rc == -signal.SIGABRT, r
    assert USE in r.err and "detected by: tp_repr(" in r.err, r
    used = r.err.split("  used by", 1)[1].split("  allocated by", 1)[0]
    assert 'File "<string>", line 4, in <module>' in used, r
    freed = sites(r.err)[1]
    assert "C caller:  borrowed_list_item (" in freed, r
