"""python-debug -m pydebug build: a debug interpreter from source, installed
beside the others under -debug names, verified.

The fast tests drive the whole command over small fake CPython trees (a
configure script and a Makefile that install a stand-in interpreter), to
show each way a build can end: installed with its entry points, or
stopped at the failing step with that step's log tail and nothing left
under the prefix.  The slow test builds a real --with-pydebug 3.13 from
Debian's source package and runs `verify` on it."""
import json
import os
import subprocess

import pytest

from conftest import FRONT

CONFIGURE = """#!/bin/sh
# A stand-in for CPython's configure: writes the Makefile.
prefix=
for a in "$@"; do
    case "$a" in --prefix=*) prefix=${a#--prefix=} ;; esac
    echo "configure: $a"
done
%(configure_fails)s
cat > Makefile <<MK
all:
\t@echo "gcc -c Objects/object.c"
install:
\tmkdir -p \\$(DESTDIR)$prefix/bin
\tcp %(src)s/python.sh \\$(DESTDIR)$prefix/bin/python%(series)s
\tcp %(src)s/config.sh \\$(DESTDIR)$prefix/bin/python%(series)s-config
%(install_fails)s
MK
"""


def fake_tree(tmp_path, version="3.13.9", debug=True, configure_fails=False,
              install_fails=False):
    """A CPython-shaped tree: configure, Include/patchlevel.h, and an
    'interpreter' (a shell script) answering the build's smoke test."""
    src = tmp_path / "cpython"
    (src / "Include").mkdir(parents=True)
    (src / "Include" / "patchlevel.h").write_text('#define PY_VERSION "%s"\n' % version)
    series = ".".join(version.split(".")[:2])
    (src / "configure").write_text(CONFIGURE % {
        "src": src, "series": series,
        "configure_fails": "echo 'configure: error: no acceptable C compiler' >&2; exit 77"
                           if configure_fails else "",
        "install_fails": "\t@echo 'install: disk full' >&2; exit 3" if install_fails else ""})
    (src / "python.sh").write_text("#!/bin/sh\necho '%s %s 0'\n" % (version, debug))
    (src / "config.sh").write_text("#!/bin/sh\necho '-I%s'\n" % series)
    for f in ("configure", "python.sh", "config.sh"):
        (src / f).chmod(0o755)
    return src


CACHE = os.environ.get("PYDEBUG_CACHE") or os.path.expanduser("~/.cache/python-debug")


def pd_build(tmp_path, *args):
    return subprocess.run([FRONT, "-X", "malloc=off", "-m", "pydebug", "build",
                           *map(str, args)], capture_output=True, text=True, timeout=3600)


def files_under(path):
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs)


def test_installs_side_by_side_with_debug_names(tmp_path):
    src = fake_tree(tmp_path)
    prefix = tmp_path / "prefix"
    p = pd_build(tmp_path, "3.13", "--source", src, "--with-pydebug", "--with-trace-refs",
                 "--prefix", prefix)
    assert p.returncode == 0, p
    exe = prefix / "bin" / "python3.13-debug"
    cfg = prefix / "bin" / "python3.13-debug-config"
    assert p.stdout.split() == [str(exe), str(cfg)], p
    tree = prefix / "lib" / "python-debug" / "cpython-3.13.9-pydebug-tracerefs"
    assert os.path.realpath(exe) == str(tree / "bin" / "python3.13")
    assert os.path.realpath(cfg) == str(tree / "bin" / "python3.13-config")
    assert subprocess.run([exe], capture_output=True, text=True).stdout == "3.13.9 True 0\n"
    # Progress: each step numbered, configure got the options.
    for step in ("[1/6] source", "[2/6] configure --with-pydebug --with-trace-refs",
                 "[3/6] make", "[4/6] install", "[5/6] move into place"):
        assert step in p.stderr, p
    with open(os.path.join(CACHE, "logs", "cpython-3.13.9-pydebug-tracerefs-configure.log")) as f:
        log = f.read()
    assert "configure: --with-trace-refs" in log and "--prefix=%s" % tree in log
    # A second build replaces the entry points and keeps the other stack.
    p2 = pd_build(tmp_path, "3.13.9", "--source", src, "--with-pydebug", "--prefix", prefix)
    assert p2.returncode == 0, p2
    assert os.path.realpath(exe) == str(prefix / "lib" / "python-debug" /
                                        "cpython-3.13.9-pydebug" / "bin" / "python3.13")
    assert (tree / "bin" / "python3.13").exists()
    assert not [f for f in os.listdir(prefix / "lib" / "python-debug") if f.startswith(".")]


@pytest.mark.parametrize("version", ["3.14.10", "3.15.2"])
def test_builds_3_14_and_3_15_from_a_given_source(tmp_path, version):
    """Debian's archive here serves no 3.14/3.15 source: --source does."""
    series = version.rsplit(".", 1)[0]
    src = fake_tree(tmp_path, version)
    prefix = tmp_path / "prefix"
    p = pd_build(tmp_path, series, "--source", src, "--with-pydebug", "--prefix", prefix)
    assert p.returncode == 0, p
    exe = prefix / "bin" / ("python%s-debug" % series)
    assert p.stdout.split()[0] == str(exe), p
    assert subprocess.run([exe], capture_output=True, text=True).stdout == "%s True 0\n" % version


@pytest.mark.parametrize("how, step, says", [
    ("configure_fails", "configure", "no acceptable C compiler"),
    ("install_fails", "install", "install: disk full"),
])
def test_failed_step_shows_its_log_and_installs_nothing(tmp_path, how, step, says):
    src = fake_tree(tmp_path, **{how: True})
    prefix = tmp_path / "prefix"
    p = pd_build(tmp_path, "3.13", "--source", src, "--with-pydebug", "--prefix", prefix)
    assert p.returncode == 1, p
    assert "build: %s failed" % step in p.stderr, p
    assert "last " in p.stderr and says in p.stderr, p
    assert "nothing was installed" in p.stderr, p
    # install_fails has written part of the install: into the staging
    # folder only, which is gone.
    assert files_under(prefix) == [], p


def test_failed_smoke_test_removes_the_tree(tmp_path):
    src = fake_tree(tmp_path, debug=False)  # claims no Py_REF_DEBUG
    prefix = tmp_path / "prefix"
    p = pd_build(tmp_path, "3.13", "--source", src, "--with-pydebug", "--prefix", prefix)
    assert p.returncode == 1 and "smoke" in p.stderr, p
    assert files_under(prefix) == [], p


@pytest.mark.parametrize("args, says", [
    (["3.10", "--with-pydebug"], "3.11 to 3.15"),
    (["3.16", "--with-pydebug"], "3.11 to 3.15"),
    (["three", "--with-pydebug"], "VERSION must be"),
    (["3.13"], "nothing makes this a debug stack"),
    (["3.12", "--with-pydebug", "--source", "{src}"], "holds CPython 3.13.9, not 3.12"),
    (["3.13", "--with-pydebug", "--source", "{tmp}/nowhere"], "no such source"),
    (["3.13", "--with-pydebug", "--source", "{tmp}"], "is not a CPython source tree"),
    (["3.13", "--with-pydebug", "--source", "{src}", "--jobs", "0"], "--jobs"),
])
def test_bad_input_is_refused(tmp_path, args, says):
    src = fake_tree(tmp_path)
    args = [a.format(src=src, tmp=tmp_path) for a in args]
    p = pd_build(tmp_path, *args, "--prefix", tmp_path / "prefix")
    assert p.returncode == 2 and says in p.stderr, p
    assert files_under(tmp_path / "prefix") == [], p


def test_does_not_replace_a_file_it_did_not_make(tmp_path):
    src = fake_tree(tmp_path)
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    mine = prefix / "bin" / "python3.13-debug"
    mine.write_text("#!/bin/sh\necho mine\n")
    p = pd_build(tmp_path, "3.13", "--source", src, "--with-pydebug", "--prefix", prefix)
    assert p.returncode == 2 and "not a python-debug entry point" in p.stderr, p
    assert mine.read_text() == "#!/bin/sh\necho mine\n"


def _debian_source_reachable():
    if not os.path.exists("/etc/debian_version"):
        return "not a Debian machine: no Debian source package to build"
    if os.environ.get("PYDEBUG_IN_SID"):
        return ("in the sid root, whose archive serves no CPython source: "
                "the Debian 12 run builds Debian's 3.13 source")
    if os.geteuid() != 0 and subprocess.run(["apt-cache", "showsrc", "python3.13"],
                                            capture_output=True).returncode != 0:
        return "no deb-src line for python3.13 and not root to add one"
    return None


@pytest.mark.slow
@pytest.mark.skipif(_debian_source_reachable() is not None,
                    reason=str(_debian_source_reachable()))
def test_real_debug_build_passes_verify(tmp_path):
    """The issue's end-to-end check: Debian's python3.13 source, built
    --with-pydebug, installed as python3.13-debug, and the seed's test
    plan passes on it natively and through python-debug."""
    prefix = tmp_path / "prefix"
    p = pd_build(tmp_path, "3.13", "--with-pydebug", "--prefix", prefix)
    assert p.returncode == 0, p
    exe = prefix / "bin" / "python3.13-debug"
    out = subprocess.run([exe, "-c", "import sys; print(sys.abiflags, sys.gettotalrefcount() > 0)"],
                         capture_output=True, text=True)
    assert out.stdout == "d True\n", out
    cfg = subprocess.run([prefix / "bin" / "python3.13-debug-config", "--abiflags"],
                         capture_output=True, text=True)
    assert cfg.stdout.strip() == "d", cfg
    v = subprocess.run([FRONT, "-X", "malloc=off", "-m", "pydebug", "verify", "--json",
                        "--python", str(exe)], capture_output=True, text=True, timeout=900)
    rows = {r["facility"]: (r["native"][0], r["python-debug"][0])
            for r in json.loads(v.stdout)["rows"]}
    assert v.returncode == 0, (v.stderr, rows)
    assert all(ours == "pass" for _, ours in rows.values()), rows
    assert rows["Py_REF_DEBUG total refcount"][0] == "pass", rows
