"""python-debug -m pydebug config: the build configuration of every
interpreter present, and the C pyconfig.h parser against
sysconfig.parse_config_h, its reference."""
import json
import subprocess

# Random pyconfig.h-like texts (ASCII; Python's int() knows non-ASCII digits
# and spaces the C parser leaves as strings, a documented difference),
# parsed both ways inside python-debug.
DIFFERENTIAL = r'''
import io, random, sys, sysconfig, _pydebug
from pydebug.config import unquotes
always = getattr(sysconfig, "_ALWAYS_STR", None)
uq = unquotes()
rng = random.Random(1234)
names = ["HAVE_X", "Py_DEBUG", "A", "ab", "A_1", "Ab9", "MACOSX_DEPLOYMENT_TARGET", "X(y)", ""]
values = ["1", "-2", "+3", " 4 ", "1_0", "1__0", "_1", "1_", "0x10", "007", "\"3.11\"", "\"5\"", "\"\"", "\"a\"b\"", "",
          "\t5\x0b", "\x1c6\x1f", "- 7", "8 9", "/* c */", "99999999999999999999999"]
seps = [" "] * 8 + ["  ", "\t", ""]
ends = ["\n", "\r\n", "\r", "\n\r", ""]
def line():
    k = rng.random()
    if k < 0.5:
        return "#define" + rng.choice(seps) + rng.choice(names) + rng.choice(seps) + rng.choice(values)
    if k < 0.8:
        return "/* #undef" + rng.choice(seps) + rng.choice(names) + rng.choice(seps) + "*/" + rng.choice(["", " "])
    return rng.choice(["", "#", "# define AB 1", " #define AB 1", "/* comment */"])
bad = counted = 0
for i in range(3000):
    text = "".join(line() + rng.choice(ends) for _ in range(rng.randint(0, 8)))
    ours = _pydebug.parse_config_h(text, always, uq)
    ref = sysconfig.parse_config_h(io.StringIO(text, newline=None))
    counted += len(ref)
    if ours != ref or list(ours) != list(ref):
        bad += 1
        if bad < 4:
            print("DIFF", repr(text), ours, ref)
h = open(sysconfig.get_config_h_filename(), encoding="utf-8").read()
real = _pydebug.parse_config_h(h, always, uq) == sysconfig.parse_config_h(io.StringIO(h, newline=None))
print("counted", counted > 1500)
print("bad", bad, "real", real)
'''

QUERY = ("import json, sys, sysconfig; print(json.dumps({'SOABI': sysconfig.get_config_var('SOABI'),"
         " 'EXT_SUFFIX': sysconfig.get_config_var('EXT_SUFFIX'), 'refdebug': hasattr(sys, "
         "'gettotalrefcount'), 'pymalloc': bool(sysconfig.get_config_var('WITH_PYMALLOC'))}))")


def test_parser_agrees_with_sysconfig(run):
    r = run(DIFFERENTIAL, "malloc=off")
    assert r.rc == 0, r
    assert r.out.strip().splitlines()[-2:] == ["counted True", "bad 0 real True"], r


def test_config_is_right(run, py):
    r = run(None, "malloc=objects", args=["-m", "pydebug", "config", "--json"])
    assert r.rc == 0, r
    info = json.loads(r.out)
    want = json.loads(subprocess.run([py["exe"], "-I", "-c", QUERY], capture_output=True,
                                     text=True, check=True).stdout)
    b = info["build"]
    assert b["Py_DEBUG"] == (py["abiflags"] == "d"), info
    assert b["Py_REF_DEBUG"] == want["refdebug"], info
    assert b["WITH_PYMALLOC"] == want["pymalloc"], info
    assert b["Py_GIL_DISABLED"] is False and b["Py_TRACE_REFS"] is False, info
    assert b["SOABI"] == want["SOABI"] and b["EXT_SUFFIX"] == want["EXT_SUFFIX"], info
    assert b["PYMALLOC_DEBUG"].startswith("default" if py["abiflags"] == "d" else "available")
    assert all(ok for _, ok in info["checks"]) and len(info["checks"]) == 3, info
    facilities = {name: (native, ours) for name, native, ours in info["facilities"]}
    assert facilities["Py_REF_DEBUG total refcount"][0] == ("yes" if want["refdebug"] else "no")
    assert "pymalloc walk" in facilities["Py_TRACE_REFS object listing"][1], facilities
    # the text form says the same
    t = run(None, "malloc=objects", args=["-m", "pydebug", "config"])
    assert t.rc == 0 and "SOABI            %s" % want["SOABI"] in t.out, t
    assert "MISMATCH" not in t.out, t


def test_config_for_another_interpreter(run, py):
    r = run(None, "malloc=off", args=["-m", "pydebug", "config", "--json", "--python", py["exe"]])
    assert r.rc == 0, r
    assert json.loads(r.out)["runtime"]["executable"] == py["exe"], r
    bad = run(None, "malloc=off", args=["-m", "pydebug", "config", "--python", "/nonexistent/python3"])
    assert bad.rc == 2 and "/nonexistent/python3" in bad.err, bad
