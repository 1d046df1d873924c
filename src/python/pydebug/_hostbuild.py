"""Build a python-debug host for the interpreter that runs this file.

    PY _hostbuild.py SRC OUT

SRC holds the C sources (core/, py/, launcher/host.c): the checkout's
src/ or an installed package's pydebug/_csrc.  OUT/python-debug-host is
written last, by rename, so a reader never sees half a host.  The front
end (src/launcher/front.c) runs this under a lock, on first use and
whenever the interpreter or python-debug changed.

Standard library only: the interpreter need not have pydebug installed.
Environment:
  CC                   the compiler (default cc)
  PYDEBUG_LINK         auto (default), shared or static: which libpython
  PYDEBUG_HOST_CFLAGS  extra compiler flags (the benchmarks' floor builds)

Exit status 3 with one line on stderr when a compiler, the headers or a
libpython to link is missing."""
import glob
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile

v = sysconfig.get_config_var
WHO = "python-debug"


def fail(msg):
    print("%s: %s" % (WHO, msg), file=sys.stderr)
    sys.exit(3)


def dev_package():
    """What a user installs for headers and libpython, by distribution."""
    ver = "%d.%d" % sys.version_info[:2]
    if os.path.exists("/etc/debian_version"):
        dbg = "-dbg" if sys.abiflags == "d" else ""
        return "python%s-dev (Debian/Ubuntu: apt-get install python%s-dev%s)" % (
            ver, ver, " libpython%s%s" % (ver, dbg) if dbg else "")
    return "the development package of Python %s (headers and libpython)" % ver


def libpython(mode):
    """(kind, link arguments) of the libpython to embed."""
    libdirs = [d for d in (v("LIBDIR"), v("LIBPL")) if d]
    shared = v("LDLIBRARY") or ""
    static = v("LIBRARY") or ""
    name = "python" + (v("LDVERSION") or "%d.%d" % sys.version_info[:2])
    found_shared = [d for d in libdirs if glob.glob(os.path.join(d, "lib%s.so*" % name))]
    found_static = [os.path.join(d, static) for d in libdirs
                    if static.endswith(".a") and os.path.exists(os.path.join(d, static))]
    libs = shlex.split(" ".join(x for x in (v("LIBS"), v("SYSLIBS")) if x))
    if mode in ("auto", "shared") and found_shared:
        d = found_shared[0]
        return "shared", ["-L" + d, "-Wl,-rpath," + d, "-l" + name] + libs
    if mode in ("auto", "static") and found_static:
        # Every object of the archive, its symbols exported as the
        # interpreter's own executable exports them: extension modules
        # link against them at load time.
        mods = shlex.split(v("MODLIBS") or "")
        return "static", (["-no-pie", "-Wl,--whole-archive", found_static[0],
                           "-Wl,--no-whole-archive", "-Wl,--export-dynamic"] + mods + libs)
    if mode == "static":
        fail("no static libpython (%s) for %s in %s; install %s"
             % (static or "lib%s.a" % name, sys.executable, " or ".join(libdirs), dev_package()))
    fail("no libpython to embed for %s (neither lib%s.so nor %s in %s); install %s"
         % (sys.executable, name, static or "lib%s.a" % name, " or ".join(libdirs), dev_package()))


def main(src, out):
    mode = os.environ.get("PYDEBUG_LINK") or "auto"
    if mode not in ("auto", "shared", "static"):
        fail("PYDEBUG_LINK=%s: expected auto, shared or static" % mode)
    include = sysconfig.get_paths()["include"]
    if not os.path.exists(os.path.join(include, "Python.h")):
        fail("no Python headers for %s (%s/Python.h is missing); install %s"
             % (sys.executable, include, dev_package()))
    cc = shlex.split(os.environ.get("CC") or "cc")
    if shutil.which(cc[0]) is None:
        fail("no C compiler (%s) to build the host for %s; install one "
             "(Debian/Ubuntu: apt-get install gcc)" % (cc[0], sys.executable))
    kind, link = libpython(mode)

    # An installed package carries STAMP; in a checkout our own warnings
    # are errors, as the project's standard says.
    werror = [] if os.path.exists(os.path.join(src, "STAMP")) else ["-Werror"]
    base = (cc + ["-std=c11", "-Wall", "-Wextra"] + werror + ["-O2", "-g"] +
            shlex.split(os.environ.get("PYDEBUG_HOST_CFLAGS", "")))
    # The core's thread-locals are read on every allocation: in an
    # executable they take the model that needs no call.
    units = [(f, ["-ftls-model=initial-exec"]) for f in sorted(glob.glob(os.path.join(src, "core", "*.c")))]
    # -fPIC for the code that reads the interpreter's data (_PyRuntime and
    # the like): position-independent-executable code would take a copy
    # of each such variable into the host (a copy relocation), and
    # libpython itself would then use the copy, leaving its own .PyRuntime
    # section unused - where sys.remote_exec, py-spy and other debuggers
    # look for the runtime.
    units += [(f, ["-fPIC", "-fno-optimize-sibling-calls", "-I" + include])
              for f in sorted(glob.glob(os.path.join(src, "py", "*.c")) +
                              glob.glob(os.path.join(src, "py", "interp", "*.c")) +
                              [os.path.join(src, "launcher", "host.c")])]
    if kind == "static":
        base.append("-fno-pie")
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=".build-") as tmp:
        objs, running, jobs = [], [], max(1, min(os.cpu_count() or 1, 8))
        for i, (f, extra) in enumerate(units):
            o = os.path.join(tmp, "%03d-%s.o" % (i, os.path.basename(f)[:-2]))
            objs.append(o)
            running.append((f, subprocess.Popen(base + extra + ["-c", f, "-o", o])))
            while len(running) >= jobs or (i == len(units) - 1 and running):
                f0, p = running.pop(0)
                if p.wait() != 0:
                    for _, q in running:
                        q.wait()
                    fail("compiling %s failed (see the messages above)" % f0)
        tmp_host = os.path.join(tmp, "python-debug-host")
        cmd = (base + objs + link + ["-ldl", "-lpthread", "-lm",
               # Our dlopen/dlclose and exec interposers: libpython's calls
               # must land in the host.
               "-Wl,--export-dynamic-symbol=dlopen", "-Wl,--export-dynamic-symbol=dlclose",
               "-Wl,--export-dynamic-symbol=execv", "-Wl,--export-dynamic-symbol=execve",
               "-Wl,--export-dynamic-symbol=posix_spawn", "-Wl,--export-dynamic-symbol=posix_spawnp",
               "-o", tmp_host])
        if subprocess.call(cmd) != 0:
            fail("linking the host for %s against its %s libpython failed (see the messages above)"
                 % (sys.executable, kind))
        os.replace(tmp_host, os.path.join(out, "python-debug-host"))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        fail("usage: PY _hostbuild.py SRC OUT")
    main(sys.argv[1], sys.argv[2])
