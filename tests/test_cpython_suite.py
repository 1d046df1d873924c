"""No false reports on a real, large workload: CPython's own test modules
pass under python-debug as they pass under python, on every interpreter
present whose `test` package is installed."""
import os
import subprocess

import pytest

from conftest import FRONT

MODULES = ["test_list", "test_dict", "test_set", "test_json", "test_re",
           "test_pickle", "test_threading"]


def _test_package_dir(py):
    out = subprocess.run([py["exe"], "-c", "import test, os; print(os.path.dirname(test.__file__))"],
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


@pytest.mark.slow
def test_cpython_test_modules_pass(py, tmp_path):
    tdir = _test_package_dir(py)
    if not tdir or not os.path.exists(os.path.join(tdir, "test_list.py")):
        pytest.skip("%s has no full `test` package (Debian: libpython3.X-testsuite)" % py["exe"])
    # test_str is test_unicode before 3.13
    strmod = "test_str" if os.path.exists(os.path.join(tdir, "test_str.py")) else "test_unicode"
    mods = MODULES + [strmod]
    r = subprocess.run([FRONT, "--python", py["exe"], "-m", "test", *mods],
                       capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    assert "==python-debug==" not in r.stderr + r.stdout, r.stderr[-5000:]
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    assert "Result: SUCCESS" in r.stdout
