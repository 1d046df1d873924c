"""python-debug -m pydebug abi: the ABI each extension module was built
for, and a prediction of whether it loads into an interpreter - checked by
loading it, for the test extension built for every interpreter present,
into every one."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import PRESENT, _build_ext

LOAD = ("import importlib.util as u, sys\n"
        "s = u.spec_from_file_location('pdbuggy', sys.argv[1])\n"
        "if s is None:\n"
        "    sys.exit(3)\n"
        "u.module_from_spec(s)\n")


def loads(exe, path):
    return subprocess.run([exe, "-I", "-c", LOAD, path], capture_output=True).returncode == 0


def predict(run, py, paths):
    r = run(None, "malloc=off", args=["-m", "pydebug", "abi", "--json", "--python", py["exe"], *paths])
    assert r.rc == 0, r
    return {m["file"]: m for m in json.loads(r.out)["modules"]}


def test_prediction_matches_loading(run, py, tmp_path):
    exts = []
    for info in PRESENT:
        d = _build_ext(info)
        exts += [os.path.join(d, n) for n in os.listdir(d) if n.startswith("pdbuggy")]
    # A debug build's extension under a release build's name: the name is
    # accepted, the symbols are not there (the seed's _d split).
    for e in exts:
        if ".cpython-311d-" in e:
            renamed = tmp_path / os.path.basename(e).replace("311d", "311")
            shutil.copy(e, renamed)
            exts.append(str(renamed))
    got = predict(run, py, exts)
    assert set(got) == set(exts)
    for e in exts:
        m = got[e]
        assert m["loads"] == loads(py["exe"], e), (e, m)
        if "311d" in e or "311d" in os.path.dirname(e):
            assert m["signs"], m
        if ".cpython-311d-" in os.path.basename(e):
            assert m["built_for"].endswith("debug build (d)"), m
        if not m["loads"]:
            assert m["why"], m


def test_debug_extension_tells_why(run, py):
    dbg = [i for i in PRESENT if i["abiflags"] == "d"]
    if not dbg:
        pytest.skip("no debug interpreter (python3.11-dbg) present to build a debug extension")
    if py["abiflags"] == "d":
        pytest.skip("a debug interpreter exports what a debug extension needs")
    d = _build_ext(dbg[0])
    e = [os.path.join(d, n) for n in os.listdir(d) if n.startswith("pdbuggy")][0]
    m = predict(run, py, [e])[e]
    assert not m["loads"] and any("_Py_RefTotal" in w or "RefTotal" in w for w in m["why"]), m


def test_bad_input(run, tmp_path):
    junk = tmp_path / "junk.so"
    junk.write_bytes(b"not an ELF file at all")
    r = run(None, "malloc=off", args=["-m", "pydebug", "abi", "--json", str(junk)])
    assert r.rc == 0, r
    m = json.loads(r.out)["modules"][0]
    assert not m["loads"] and "not an ELF file" in m["why"][0], m
    r = run(None, "malloc=off", args=["-m", "pydebug", "abi", str(tmp_path / "missing.so")])
    assert r.rc == 2 and "missing.so" in r.err, r
