"""python-debug -m pydebug verify [--python PATH] [--json]

The seed's test plan for a debug Python stack, run against an interpreter:
a smoke test, an extension module compiled for it and loaded, and each
debug-build facility - natively where the build has it, through
python-debug otherwise (and where both exist, both).  Prints a table:
facility, native, through python-debug; exit status 1 if a check that can
run failed."""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FRONT = os.path.join(ROOT, "build", "bin", "python-debug")
PYFLAGS = os.path.join(ROOT, "tools", "pyflags.py")

EXT = r"""
#include <Python.h>
static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "pdverify", NULL, -1, methods};
PyMODINIT_FUNC PyInit_pdverify(void) { return PyModule_Create(&def); }
"""


def _run(cmd, env=None, timeout=300):
    e = dict(os.environ, **(env or {}))
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, "", str(exc)
    return p.returncode, p.stdout, p.stderr


def _last(text):
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


class Plan:
    """Each check: (name, native, through python-debug), each a tuple
    (status, detail) with status 'pass', 'FAIL' or 'n/a'."""

    def __init__(self, py):
        self.py = py
        self.pd = [FRONT, "--python", py]
        self.rows = []
        # Build python-debug's host for py now, so its message does not
        # stand in for the smoke test's output.
        _run(self.pd + ["-c", "pass"])

    def native(self, code, env=None, args=("-c",)):
        return _run([self.py, *args, code], env)

    def ours(self, code, *xopts, env=None):
        cmd = list(self.pd)
        for x in xopts:
            cmd += ["-X", x]
        return _run(cmd + ["-c", code], env)

    def add(self, name, native, ours):
        self.rows.append((name, native, ours))


def _ok(cond, detail):
    return ("pass" if cond else "FAIL", detail)


NA = ("n/a", "")


def smoke(plan):
    rc, out, err = plan.native("print(6 * 7)")
    n = _ok(rc == 0 and out.strip() == "42", _last(err) or out.strip())
    rc, out, err = plan.ours("print(6 * 7)")
    plan.add("smoke test", n, _ok(rc == 0 and out.strip() == "42", _last(err) or out.strip()))


def extension(plan, tmp):
    rc, out, err = _run([plan.py, PYFLAGS, "cflags"])
    rc2, suffix, _ = _run([plan.py, PYFLAGS, "ext-suffix"])
    src = os.path.join(tmp, "pdverify.c")
    with open(src, "w") as f:
        f.write(EXT)
    so = os.path.join(tmp, "pdverify" + suffix.strip())
    rc3, _, cerr = _run(["cc", "-shared", "-fPIC", "-O1", *out.split(), src, "-o", so])
    if rc or rc2 or rc3:
        res = ("FAIL", "compile: " + _last(cerr or err))
        plan.add("extension rebuilt and loaded", res, res)
        return
    env = {"PYTHONPATH": tmp}
    code = "import pdverify; print(pdverify.answer())"
    rc, out, err = _run([plan.py, "-c", code], env)
    n = _ok(rc == 0 and out.strip() == "42", _last(err))
    rc, out, err = _run(plan.pd + ["-c", code], env)
    plan.add("extension rebuilt and loaded", n, _ok(rc == 0 and out.strip() == "42", _last(err)))


def refcount(plan, has):
    code = "import sys; print(sys.gettotalrefcount())"
    n = NA
    if has["gettotalrefcount"]:
        rc, out, err = plan.native(code)
        n = _ok(rc == 0 and out.strip().isdigit(), out.strip() or _last(err))
    # A leak of N references must move the total by exactly N (after a
    # first round, which may fill caches: regrtest -R's warm-up).
    leak = ("import array, gc, pydebug\nkeep = []\nx = object()\nv = array.array('q', [0] * 5)\n"
            "for k in range(5):\n    if k:\n        keep.extend([x] * 100)\n"
            "    gc.collect()\n    v[k] = pydebug.gettotalrefcount()\n"
            "print(sorted(set(v[k + 1] - v[k] for k in range(1, 4))))")
    rc, out, err = plan.ours(leak, "malloc=objects")
    plan.add("Py_REF_DEBUG total refcount", n,
             _ok(rc == 0 and _last(out) == "[100]", "leak of 100, 3 times: %s" % (_last(out) or _last(err))))


def objects(plan, has):
    code = "import sys; xs = [12345678 + i for i in range(3)]; " \
           "print(sum(1 for o in sys.getobjects(0, int) if any(o is x for x in xs)))"
    n = NA
    if has["getobjects"]:
        rc, out, err = plan.native(code)
        n = _ok(rc == 0 and out.strip() == "3", out.strip() or _last(err))
    rc, out, err = plan.ours(code.replace("sys.getobjects", "pydebug.getobjects")
                             .replace("import sys", "import pydebug"), "malloc=objects")
    plan.add("Py_TRACE_REFS object listing", n, _ok(rc == 0 and out.strip() == "3",
                                                     out.strip() or _last(err)))


def dumprefs(plan, has):
    n = NA
    if has["getobjects"]:
        rc, out, err = plan.native("pass", env={"PYTHONDUMPREFS": "1"})
        n = _ok(rc == 0 and "Remaining objects:" in err, _last(err))
    rc, out, err = plan.ours("pass", "malloc=objects", env={"PYTHONDUMPREFS": "1"})
    plan.add("PYTHONDUMPREFS dump at exit", n,
             _ok(rc == 0 and "Remaining objects:" in err, "%d lines" % len(err.splitlines())))


def mallocstats(plan, has):
    rc, out, err = plan.native("pass", env={"PYTHONMALLOCSTATS": "1"})
    n = _ok(rc == 0 and "Small block threshold" in err,
            "pymalloc's table" if rc == 0 else "exit status %d" % rc) if has["pymalloc"] else NA
    rc, out, err = plan.ours("pass", env={"PYTHONMALLOCSTATS": "1"})
    plan.add("PYMALLOC_DEBUG malloc stats", n,
             _ok(rc == 0 and "class   size   num pools" in err and "python-debug allocator" in err,
                 "table and per-domain counts"))


def overrun(plan, has):
    # A write past the end of a PyMem block, caught at its free.
    code = ("import ctypes\nPyMem_Malloc = ctypes.pythonapi.PyMem_Malloc\n"
            "PyMem_Malloc.restype = ctypes.c_void_p\nPyMem_Malloc.argtypes = [ctypes.c_size_t]\n"
            "PyMem_Free = ctypes.pythonapi.PyMem_Free\nPyMem_Free.argtypes = [ctypes.c_void_p]\n"
            "p = PyMem_Malloc(24)\nctypes.memset(p + 24, 0x41, 1)\nPyMem_Free(p)\n")
    rc, out, err = plan.native(code, env={"PYTHONMALLOC": "debug"})
    n = _ok(rc != 0 and "bad trailing pad byte" in err, "PYTHONMALLOC=debug: bad trailing pad byte"
            if "bad trailing pad byte" in err else _last(err)[:60])
    rc, out, err = plan.ours(code)
    plan.add("PYMALLOC_DEBUG buffer overrun", n,
             _ok(rc != 0 and "buffer overrun" in err, "report and abort" if rc else "no report"))


def counts(plan, has):
    n = NA
    if has["getcounts"]:
        rc, out, err = plan.native("import sys; print(len(sys.getcounts()) > 0)")
        n = _ok(rc == 0 and out.strip() == "True", _last(err))
    code = ("import pydebug\npydebug.getcounts()\nclass K: pass\nks = [K() for i in range(50)]\n"
            "print([r[1:] for r in pydebug.getcounts() if r[0].endswith('K')])")
    rc, out, err = plan.ours(code)
    plan.add("COUNT_ALLOCS counts", n, _ok(rc == 0 and out.strip() == "[(50, 0, 50)]",
                                           out.strip() or _last(err)))


def lltrace(plan, has):
    code = "__lltrace__ = True\ndef f(a):\n    return a + 1\nf(1)\n"
    n = NA
    if has["debug"]:
        rc, out, err = plan.native(code)
        n = _ok(rc == 0 and ("LOAD_FAST" in out or "LOAD_FAST" in err), "%d lines" % len(
            (out + err).splitlines()))
    rc, out, err = plan.ours("def f(a):\n    return a + 1\nimport pydebug\npydebug.lltrace(True)\n"
                             "f(1)\npydebug.lltrace(False)\n", "malloc=off")
    plan.add("LLTRACE", n, _ok(rc == 0 and "lltrace: f " in err and "LOAD_FAST" in err,
                               "%d lines" % err.count("lltrace: ")))


def callstats(plan, has):
    n = NA
    if has["callstats"]:
        rc, out, err = plan.native("import sys; print(sys.callstats())")
        n = _ok(rc == 0 and out.strip().startswith("("), _last(err) or out.strip())
    rc, out, err = plan.ours("import sys; print(sys.callstats())", "malloc=off", "sys-compat")
    try:
        t = eval(out.strip(), {})
    except Exception:
        t = None
    plan.add("CALL_PROFILE callstats", n, _ok(
        rc == 0 and isinstance(t, tuple) and len(t) == 11 and all(isinstance(v, int) for v in t),
        "11 integers" if t else _last(err)))


def tsc(plan, has):
    n = NA
    if has["settscdump"]:
        rc, out, err = plan.native("import sys; sys.settscdump(True); print(42)")
        n = _ok(rc == 0 and "opcode=" in err, _last(err))
    rc, out, err = plan.ours("import sys ; sys.settscdump(True) ; print(42)", "malloc=off", "sys-compat")
    lines = [line for line in err.splitlines() if line.startswith("opcode=")]
    plan.add("WITH_TSC tscdump", n, _ok(rc == 0 and out.strip() == "42" and lines,
                                        "%d lines" % len(lines)))


def facts(py):
    rc, out, err = _run([py, "-I", "-c",
                         "import json, sys, sysconfig; print(json.dumps({"
                         "'gettotalrefcount': hasattr(sys, 'gettotalrefcount'),"
                         "'getobjects': hasattr(sys, 'getobjects'),"
                         "'getcounts': hasattr(sys, 'getcounts'),"
                         "'callstats': hasattr(sys, 'callstats') and sys.callstats() is not None,"
                         "'settscdump': hasattr(sys, 'settscdump'),"
                         "'debug': 'd' in sys.abiflags,"
                         "'pymalloc': bool(sysconfig.get_config_var('WITH_PYMALLOC')),"
                         "'version': sys.version.split()[0]}))"])
    if rc != 0:
        raise OSError("cannot run %s: %s" % (py, _last(err)))
    return json.loads(out)


def main(args):
    py = os.path.realpath(args.python) if args.python else sys.executable
    try:
        has = facts(py)
    except OSError as e:
        print("python-debug verify: %s" % e, file=sys.stderr)
        return 2
    plan = Plan(py)
    with tempfile.TemporaryDirectory() as tmp:
        smoke(plan)
        extension(plan, tmp)
    for step in (refcount, objects, dumprefs, mallocstats, overrun, counts, lltrace, callstats, tsc):
        step(plan, has)
    failed = [r for r in plan.rows if r[1][0] == "FAIL" or r[2][0] == "FAIL"]
    if args.json:
        print(json.dumps({"python": py, "version": has["version"], "debug": has["debug"],
                          "rows": [{"facility": n, "native": a, "python-debug": b}
                                   for n, a, b in plan.rows]}, indent=1))
    else:
        print("verify: %s (%s%s)\n" % (py, has["version"], ", debug build" if has["debug"] else ""))
        print("| facility | native | through python-debug |\n|---|---|---|")
        for name, a, b in plan.rows:
            print("| %s | %s | %s |" % (name, " ".join(x for x in a if x).strip(),
                                       " ".join(x for x in b if x).strip()))
    return 1 if failed else 0
