"""python-debug -m pydebug build VERSION [--source DIR] [--with-pydebug]
    [--with-trace-refs] [--without-pymalloc] [--with-address-sanitizer]
    [--prefix DIR] [--jobs N]

Builds a real debug interpreter from CPython's sources and installs it
beside the interpreters already there, as the Fedora page's debug stacks
are: its own libpython, headers, lib-dynload and -config script, and two
entry points with -debug names,

    PREFIX/bin/python3.X-debug          the interpreter
    PREFIX/bin/python3.X-debug-config   its python-config

which point into the stack's own tree, PREFIX/lib/python-debug/NAME, where
NAME says the version and the options (cpython-3.13.5-pydebug-tracerefs).
The default prefix is ~/.local.  A second build with other options gets a
tree of its own; the entry points name the latest.

The source is a CPython tree or tarball given with --source, or Debian's
source package of pythonX.Y fetched with `apt-get source` (a deb-src line
for the Debian release that carries it is added when missing, as root),
whose upstream tarball is built.  VERSION is X.Y (the newest Debian has)
or X.Y.Z (exactly that one); with --source it must match the tree.

Steps: source, configure (out of tree), make, install into a staging
folder, move into place, smoke test, entry points.  Each step's output
goes to a log of its own (~/.cache/python-debug/logs); progress is shown on
stderr.  A step that fails stops the build with its log's tail and exit
status 1, and nothing is left under the prefix.  ccache is used when it is
installed.

This file also runs as a script with any python3 (tools/build-cpython.sh
builds the interpreters the tests need this way): it needs nothing but
the standard library."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

CACHE = os.environ.get("PYDEBUG_CACHE") or os.path.expanduser("~/.cache/python-debug")

# The Debian release whose source package carries each CPython series.
DEBIAN_SUITE = {"3.11": "bookworm", "3.13": "trixie"}

# What configure needs for a full standard library (ssl, zlib, ctypes...).
BUILD_DEPS = ["build-essential", "dpkg-dev", "xz-utils", "libssl-dev", "zlib1g-dev",
              "libffi-dev", "libbz2-dev", "liblzma-dev", "libsqlite3-dev",
              "libreadline-dev", "libexpat1-dev"]

OPTIONS = [  # (flag, configure argument, part of the stack's name)
    ("with_pydebug", "--with-pydebug", "pydebug"),
    ("with_trace_refs", "--with-trace-refs", "tracerefs"),
    ("without_pymalloc", "--without-pymalloc", "nopymalloc"),
    ("with_address_sanitizer", "--with-address-sanitizer", "asan"),
]

LOG_TAIL = 30


class BuildError(Exception):
    """A step failed; .log names its log, whose tail is shown."""

    def __init__(self, message, log=None, status=1):
        super().__init__(message)
        self.log = log
        self.status = status


def say(msg):
    print("build: " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Source

def _tree_version(tree):
    try:
        with open(os.path.join(tree, "Include", "patchlevel.h")) as f:
            m = re.search(r'#define\s+PY_VERSION\s+"([^"]+)"', f.read())
    except OSError:
        m = None
    if not m or not os.path.isfile(os.path.join(tree, "configure")):
        raise BuildError("%s is not a CPython source tree (no configure or "
                         "Include/patchlevel.h)" % tree, status=2)
    return m.group(1)


def _matches(version, want):
    return version == want or version.startswith(want + ".")


def _check_version(version, want, where):
    if not _matches(version, want):
        raise BuildError("%s holds CPython %s, not %s" % (where, version, want), status=2)


def _extract(tarball, dest):
    os.makedirs(dest)
    run_step("extract", ["tar", "-xf", tarball, "-C", dest, "--strip-components=1"])
    return dest


def _root():
    return os.geteuid() == 0


def _apt_versions(package):
    """Debian versions of a source package apt knows, newest first."""
    p = subprocess.run(["apt-cache", "showsrc", package], capture_output=True, text=True)
    found = re.findall(r"^Version: (\S+)$", p.stdout, re.M)
    if not found:
        return []
    cmp = lambda a, b: subprocess.run(["dpkg", "--compare-versions", a, "gt", b]).returncode == 0
    ordered = []
    for v in dict.fromkeys(found):
        i = 0
        while i < len(ordered) and not cmp(v, ordered[i]):
            i += 1
        ordered.insert(i, v)
    return ordered


def _upstream(debver):
    return debver.split(":")[-1].rsplit("-", 1)[0].split("+")[0]


def _machine_mirror():
    """The Debian archive this machine's own apt sources name (deb822 files
    first, then one-line ones), not a security one."""
    import glob
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("URIs:"):
                        for uri in line.split()[1:]:
                            if "security" not in uri:
                                return uri
        except OSError:
            pass
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        try:
            with open(path) as f:
                for line in f:
                    words = line.split()
                    if words and words[0] == "deb":
                        uri = words[2] if words[1].startswith("[") else words[1]
                        if "security" not in uri:
                            return uri
        except (OSError, IndexError):
            pass
    raise BuildError("no Debian archive in this machine's apt sources to add a deb-src "
                     "line for", status=2)


def _add_deb_src(suite):
    path = "/etc/apt/sources.list.d/python-debug-%s-src.sources" % suite
    if not os.path.exists(path):
        mirror = _machine_mirror()
        with open(path, "w") as f:
            f.write("Types: deb-src\nURIs: %s\nSuites: %s\n"
                    "Components: main\nSigned-By: /usr/share/keyrings/"
                    "debian-archive-keyring.gpg\n" % (mirror, suite))
    run_step("apt-update", ["apt-get", "update", "-qq"])


def _debian_source(want):
    """The upstream tarball of Debian's pythonX.Y source for `want`,
    fetched into the cache when not there yet."""
    series = ".".join(want.split(".")[:2])
    package = "python" + series
    pick = [v for v in _apt_versions(package) if _matches(_upstream(v), want)]
    if not pick:
        suite = DEBIAN_SUITE.get(series)
        if suite is None:
            raise BuildError("Debian has no source package for CPython %s; give a "
                             "CPython tree with --source DIR" % series, status=2)
        if not _root():
            raise BuildError("apt has no %s source; as root, add a deb-src line for "
                             "Debian %s (this command does it when run as root)"
                             % (package, suite))
        say("adding a deb-src line for Debian %s" % suite)
        _add_deb_src(suite)
        pick = [v for v in _apt_versions(package) if _matches(_upstream(v), want)]
        if not pick:
            raise BuildError("Debian %s's %s source is not CPython %s" % (suite, package, want),
                             status=2)
    debver = pick[0]
    version = _upstream(debver)
    src = os.path.join(CACHE, "src")
    os.makedirs(src, exist_ok=True)
    # The upstream tarball, not its detached signature (.orig.tar.xz.asc).
    is_tarball = re.compile(r"%s_%s\.orig\.tar\.(xz|gz|bz2)$" % (re.escape(package),
                                                                 re.escape(version))).match
    tarballs = [f for f in os.listdir(src) if is_tarball(f)]
    if not tarballs:
        say("fetching Debian's %s=%s source" % (package, debver))
        run_step("fetch", ["apt-get", "source", "-qq", "--download-only",
                           "%s=%s" % (package, debver)], cwd=src)
        tarballs = [f for f in os.listdir(src) if is_tarball(f)]
        if not tarballs:
            raise BuildError("apt-get source gave no upstream tarball for %s" % debver)
    return os.path.join(src, tarballs[0]), "Debian %s %s" % (package, debver)


def _missing_packages():
    if not os.path.exists("/etc/debian_version") or not shutil.which("dpkg"):
        return []
    return [p for p in BUILD_DEPS
            if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]


def _install_build_deps(required):
    need = _missing_packages()
    if not need:
        return
    if not _root():
        if not required:
            say("warning: without Debian's " + " ".join(need) + " some standard modules "
                "will not be built")
            return
        raise BuildError("missing Debian packages to build CPython; run: "
                         "sudo apt-get install -y " + " ".join(need))
    say("installing " + " ".join(need))
    run_step("apt-install", ["apt-get", "install", "-y", "-qq", *need],
             env={"DEBIAN_FRONTEND": "noninteractive"})


# ---------------------------------------------------------------------------
# Steps

_logdir = None
_logname = "build"


def run_step(step, cmd, cwd=None, env=None, progress=None):
    """Run one step, its output into its own log; raise BuildError with
    the log on failure.  progress(log_path) is called every few seconds."""
    os.makedirs(_logdir, exist_ok=True)
    log = os.path.join(_logdir, "%s-%s.log" % (_logname, step))
    full_env = dict(os.environ, **(env or {}))
    # Not for the interpreter being built: its make runs it.
    for k in ("PYTHONHOME", "PYTHONPATH", "PYTHONMALLOC", "PYTHONMALLOCSTATS",
              "PYTHONSTARTUP", "PYDEBUG_EXECUTABLE"):
        full_env.pop(k, None)
    with open(log, "w") as out:
        out.write("$ %s\n" % " ".join(cmd))
        out.flush()
        try:
            p = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=out,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        except OSError as e:
            raise BuildError("%s: cannot run %s: %s" % (step, cmd[0], e), log)
        try:
            while True:
                try:
                    rc = p.wait(timeout=10)
                    break
                except subprocess.TimeoutExpired:
                    if progress:
                        progress(log)
        except BaseException:
            p.kill()
            p.wait()
            raise
    if rc != 0:
        raise BuildError("%s failed (exit status %d)" % (step, rc), log)
    return log


class _MakeProgress:
    """How far make is: the C files compiled so far, of those the source
    has, and the time taken."""

    def __init__(self, tree):
        self.start = time.monotonic()
        self.total = sum(1 for d in ("Objects", "Python", "Parser", "Modules")
                         for _, _, files in os.walk(os.path.join(tree, d))
                         for f in files if f.endswith(".c"))
        self.last = 0

    def __call__(self, log):
        now = time.monotonic()
        if now - self.last < (10 if sys.stderr.isatty() else 30):
            return
        self.last = now
        with open(log, errors="replace") as f:
            done = sum(1 for line in f if " -c " in line and ".c" in line)
        say("  make: %d of about %d C files compiled, %d s"
            % (done, self.total, now - self.start))


def _smoke(exe, flags):
    want_debug = "--with-pydebug" in flags
    code = ("import sys, sysconfig; print(sys.version.split()[0], hasattr(sys, "
            "'gettotalrefcount'), sysconfig.get_config_var('Py_TRACE_REFS') or 0)")
    env = {"ASAN_OPTIONS": "detect_leaks=0"}
    log = run_step("smoke", [exe, "-c", code], env=env)
    with open(log) as f:
        last = f.read().split("\n")[-2].split()
    if (last[1] == "True") != want_debug:
        raise BuildError("smoke: the interpreter built has %sPy_REF_DEBUG"
                         % ("" if want_debug is False else "no "), log)
    return last[0]


def build_tree(source, want, flags, tree_for, jobs, label, steps=5):
    """Build CPython from `source` (a tree, a tarball or None for Debian's)
    and install it at tree_for(version); return that folder."""
    global _logdir, _logname
    _logdir = os.path.join(CACHE, "logs")
    _logname = "cpython-" + want
    work = os.path.join(CACHE, "build")
    os.makedirs(work, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="cpython-%s." % want, dir=work)
    stage = None
    started = time.monotonic()
    step = [0]

    def announce(what):
        step[0] += 1
        say("[%d/%d] %s  (%d s)" % (step[0], steps, what, time.monotonic() - started))

    try:
        announce("source")
        _install_build_deps(required=not source)
        if source and os.path.isdir(source):
            src_tree, origin = os.path.abspath(source), "tree " + os.path.abspath(source)
        else:
            if source:
                tarball, origin = os.path.abspath(source), "tarball " + os.path.abspath(source)
            else:
                tarball, origin = _debian_source(want)
            src_tree = _extract(tarball, os.path.join(tmp, "src"))
        version = _tree_version(src_tree)
        _check_version(version, want, origin)
        say("  CPython %s from %s" % (version, origin))
        tree = tree_for(version)
        _logname = os.path.basename(tree)
        parent = os.path.dirname(tree)
        os.makedirs(parent, exist_ok=True)
        stage = tempfile.mkdtemp(prefix=".stage-", dir=parent)

        announce("configure " + " ".join(flags))
        obj = os.path.join(tmp, "obj")
        os.makedirs(obj)
        env = {"ASAN_OPTIONS": "detect_leaks=0"}
        if shutil.which("ccache"):
            env.update(CC="ccache gcc", CCACHE_DIR=os.path.join(CACHE, "ccache"))
        run_step("configure", [os.path.join(src_tree, "configure"), "--prefix=" + tree,
                               "--enable-shared", "LDFLAGS=-Wl,-rpath," + os.path.join(tree, "lib"),
                               *flags], cwd=obj, env=env)

        announce("make -j%d" % jobs)
        run_step("make", ["make", "-j%d" % jobs], cwd=obj, env=env,
                 progress=_MakeProgress(src_tree))

        announce("install into a staging folder")
        run_step("install", ["make", "install", "DESTDIR=" + stage], cwd=obj, env=env)
        staged = stage + os.path.abspath(tree)
        if not os.path.isdir(staged):
            raise BuildError("install: nothing was installed under %s" % staged)

        announce("move into place and smoke test")
        old = None
        if os.path.lexists(tree):
            old = tempfile.mkdtemp(prefix=".old-", dir=parent)
            os.rename(tree, os.path.join(old, "tree"))
        os.rename(staged, tree)
        try:
            _smoke(os.path.join(tree, "bin", "python" + ".".join(version.split(".")[:2])), flags)
        except BaseException:
            shutil.rmtree(tree, ignore_errors=True)
            if old:
                os.rename(os.path.join(old, "tree"), tree)
            raise
        finally:
            if old:
                shutil.rmtree(old, ignore_errors=True)
        say("  %s built in %d s" % (label, time.monotonic() - started))
        return tree
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if stage:
            shutil.rmtree(stage, ignore_errors=True)


# ---------------------------------------------------------------------------
# The side-by-side install

def _entry_points(prefix, series, tree):
    """(link, target) of the stack's -debug names."""
    bindir = os.path.join(prefix, "bin")
    return [(os.path.join(bindir, "python%s-debug" % series),
             os.path.join(tree, "bin", "python" + series)),
            (os.path.join(bindir, "python%s-debug-config" % series),
             os.path.join(tree, "bin", "python%s-config" % series))]


def _ours(link, prefix):
    """Is `link` an entry point an earlier build made (or free)?"""
    if not os.path.lexists(link):
        return True
    if not os.path.islink(link):
        return False
    return os.path.abspath(os.path.join(os.path.dirname(link), os.readlink(link))).startswith(
        os.path.join(prefix, "lib", "python-debug") + os.sep)


def _link(link, target):
    os.makedirs(os.path.dirname(link), exist_ok=True)
    tmp = link + ".pydebug-tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(os.path.relpath(target, os.path.dirname(link)), tmp)
    os.replace(tmp, link)


def _want(version):
    if not re.fullmatch(r"3\.\d+(\.\d+)?", version):
        raise BuildError("VERSION must be 3.X or 3.X.Y, not %r" % version, status=2)
    if not (3, 11) <= tuple(map(int, version.split(".")[:2])) <= (3, 15):
        raise BuildError("python-debug supports CPython 3.11 to 3.15, not %s" % version,
                         status=2)
    return version


def parser(ap=None):
    ap = ap or argparse.ArgumentParser(prog="python-debug -m pydebug build")
    ap.add_argument("version", metavar="VERSION", help="3.X or 3.X.Y")
    ap.add_argument("--source", metavar="DIR",
                    help="a CPython source tree or tarball (default: Debian's source package)")
    for flag, arg, _ in OPTIONS:
        ap.add_argument(arg, dest=flag, action="store_true", help="configure " + arg)
    ap.add_argument("--prefix", metavar="DIR", default=os.path.expanduser("~/.local"),
                    help="install under DIR (default ~/.local)")
    ap.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, metavar="N",
                    help="make -jN (default: the number of CPUs)")
    ap.add_argument("--tree", metavar="DIR", help=argparse.SUPPRESS)
    return ap


def main(args):
    try:
        want = _want(args.version)
        if args.source and not os.path.exists(args.source):
            raise BuildError("no such source: %s" % args.source, status=2)
        if args.jobs < 1:
            raise BuildError("--jobs must be at least 1", status=2)
        chosen = [(arg, part) for flag, arg, part in OPTIONS if getattr(args, flag)]
        flags = [arg for arg, _ in chosen]
        if args.tree:
            # The test interpreters: the whole install at one folder.
            tree = os.path.abspath(args.tree)
            build_tree(args.source, want, flags, lambda version: tree, args.jobs, tree)
            print(os.path.join(os.path.abspath(args.tree), "bin", "python3"))
            return 0
        if not chosen:
            raise BuildError("nothing makes this a debug stack: give --with-pydebug and/or "
                             "--with-trace-refs, --without-pymalloc, "
                             "--with-address-sanitizer", status=2)
        prefix = os.path.abspath(args.prefix)
        series = ".".join(want.split(".")[:2])
        for link, _ in _entry_points(prefix, series, ""):
            if not _ours(link, prefix):
                raise BuildError("%s exists and is not a python-debug entry point; "
                                 "not replacing it" % link, status=2)
        # The tree's name says the exact version, known once the source is.
        tag = "-".join(part for _, part in chosen)
        stacks = os.path.join(prefix, "lib", "python-debug")
        tree = build_tree(args.source, want, flags,
                          lambda version: os.path.join(stacks, "cpython-%s-%s" % (version, tag)),
                          args.jobs, "python%s-debug" % series, steps=6)
        say("[6/6] entry points in %s" % os.path.join(prefix, "bin"))
        for link, target in _entry_points(prefix, series, tree):
            _link(link, target)
        say("installed %s" % tree)
        for link, _ in _entry_points(prefix, series, tree):
            print(link)
        return 0
    except BuildError as e:
        say(str(e))
        if e.log:
            try:
                with open(e.log, errors="replace") as f:
                    tail = f.readlines()[-LOG_TAIL:]
            except OSError:
                tail = []
            say("last %d lines of %s:" % (len(tail), e.log))
            sys.stderr.write("".join("    " + line for line in tail))
        if e.status == 1:
            say("nothing was installed")
        return e.status
    except KeyboardInterrupt:
        say("interrupted; nothing was installed")
        return 130


if __name__ == "__main__":
    sys.exit(main(parser().parse_args()))
