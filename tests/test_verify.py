"""python-debug -m pydebug verify: the seed's test plan passes on every
interpreter present, natively where the build has a facility (a debug
build's reference total and LLTRACE) and through python-debug for all."""
import json

NATIVE_IN_DEBUG = {"Py_REF_DEBUG total refcount", "LLTRACE"}


def test_verify_passes(run, py):
    r = run(None, "malloc=off", args=["-m", "pydebug", "verify", "--json", "--python", py["exe"]],
            timeout=600)
    info = json.loads(r.out)
    rows = {row["facility"]: (row["native"][0], row["python-debug"][0]) for row in info["rows"]}
    # Exit status 1 when any check failed, native ones included (pyenv's
    # 3.12.1 dies of SIGSEGV at exit under PYTHONMALLOCSTATS=1).
    assert r.rc == (1 if any("FAIL" in pair for pair in rows.values()) else 0), r
    assert len(rows) == 11, rows
    assert all(ours == "pass" for _, ours in rows.values()), rows
    for name in NATIVE_IN_DEBUG:
        assert rows[name][0] == ("pass" if py["abiflags"] == "d" else "n/a"), (name, rows)
    for name in ("smoke test", "extension rebuilt and loaded", "PYMALLOC_DEBUG buffer overrun"):
        assert rows[name][0] == "pass", (name, rows)


def test_verify_text_and_bad_interpreter(run, py):
    r = run(None, "malloc=off", args=["-m", "pydebug", "verify", "--python", py["exe"]], timeout=600)
    assert "| WITH_TSC tscdump | " in r.out, r
    assert all(line.split("|")[3].strip().startswith("pass")
               for line in r.out.splitlines() if line.startswith("| ") and "---" not in line
               and not line.startswith("| facility")), r
    bad = run(None, "malloc=off", args=["-m", "pydebug", "verify", "--python", "/nonexistent/python3"])
    assert bad.rc == 2 and "python-debug verify:" in bad.err, bad
