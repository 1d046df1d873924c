"""python-debug -m pydebug config [--python PATH] [--json]

The running interpreter's build configuration, as the seed's "Identifying
the Python Build Configuration from the Runtime" reads it: the debug
macros from its pyconfig.h (parsed by python-debug's own C parser,
_pydebug.parse_config_h), what the running interpreter shows of them, the
ABI names and compiler flags from sysconfig - and, for each debug-build
facility, whether the interpreter has it natively or python-debug gives it
here, exactly or approximately."""
import json
import os
import subprocess
import sys
import sysconfig

import _pydebug

FRONT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))), "build", "bin", "python-debug")


def _read(path):
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return f.read()


def _pyconfig():
    """(path read, {NAME: value}, error).  Debian's pyconfig.h is a wrapper
    that includes the one of each architecture: that one is read."""
    path = sysconfig.get_config_h_filename()
    try:
        text = _read(path)
        arch = sysconfig.get_config_var("MULTIARCH")
        want = "<%s/" % arch if arch else None
        for line in text.splitlines():
            part = line.lstrip("# ").strip()
            if want and part.startswith("include " + want) and part.endswith("/pyconfig.h>"):
                inner = os.path.join(sysconfig.get_config_var("INCLUDEDIR") or "/usr/include",
                                     part[len("include <"):-1])
                text, path = _read(inner), inner
                break
    except OSError as e:
        return path, None, str(e)
    return path, _pydebug.parse_config_h(text, getattr(sysconfig, "_ALWAYS_STR", None),
                                         unquotes()), None


def unquotes():
    """Whether this interpreter's sysconfig.parse_config_h takes the quotes
    off a quoted value (3.15 does): asked of it, not of its version."""
    import io
    return sysconfig.parse_config_h(io.StringIO('#define AB "1"\n')).get("AB") == 1


def _defined(defs, name):
    """True, False, or None when pyconfig.h could not be read."""
    if defs is None:
        return None
    v = defs.get(name, 0)
    return v not in (0, "0")


def gather():
    """Everything `config` prints, as a dict."""
    path, defs, err = _pyconfig()
    v = sysconfig.get_config_var
    debug = _defined(defs, "Py_DEBUG")
    pymalloc = _defined(defs, "WITH_PYMALLOC")
    trace_refs = _defined(defs, "Py_TRACE_REFS")
    build = {
        "Py_DEBUG": debug,
        # implied by Py_DEBUG and by Py_TRACE_REFS (Include/pyport.h)
        "Py_REF_DEBUG": None if debug is None else bool(debug or trace_refs),
        "Py_TRACE_REFS": trace_refs,
        "WITH_PYMALLOC": pymalloc,
        # pymalloc's debug hooks are the default allocator of a debug build;
        # any build since 3.6 has them behind PYTHONMALLOC=debug
        "PYMALLOC_DEBUG": "default (Py_DEBUG)" if debug else "available (PYTHONMALLOC=debug)",
        "Py_GIL_DISABLED": _defined(defs, "Py_GIL_DISABLED"),
        "ABIFLAGS": v("ABIFLAGS") if v("ABIFLAGS") is not None else sys.abiflags,
        "SOABI": v("SOABI"),
        "EXT_SUFFIX": v("EXT_SUFFIX"),
        "CONFIG_ARGS": v("CONFIG_ARGS"),
        "OPT": v("OPT"),
        "CFLAGS": v("CFLAGS"),
    }
    runtime = {
        "version": sys.version.split()[0],
        "executable": sys.executable,
        "sys.abiflags": sys.abiflags,
        "sys.gettotalrefcount": hasattr(sys, "gettotalrefcount"),
        "sys.getobjects": hasattr(sys, "getobjects"),
        "sysconfig Py_DEBUG": v("Py_DEBUG"),
    }
    # What the runtime shows must agree with the header.
    checks = []
    if debug is not None:
        checks.append(("Py_DEBUG in pyconfig.h vs 'd' in sys.abiflags",
                       debug == ("d" in sys.abiflags)))
        checks.append(("Py_REF_DEBUG vs sys.gettotalrefcount",
                       build["Py_REF_DEBUG"] == runtime["sys.gettotalrefcount"]))
        checks.append(("Py_TRACE_REFS vs sys.getobjects",
                       trace_refs == runtime["sys.getobjects"]))
    return {"pyconfig_h": path, "pyconfig_error": err, "build": build, "runtime": runtime,
            "checks": checks, "facilities": facilities(build, runtime)}


def facilities(build, runtime):
    """[(facility, native, through python-debug)] on this interpreter."""
    try:
        acc = _pydebug.accounting()
    except Exception as e:  # not under python-debug's host
        acc = {"objects": "unavailable (%s)" % e, "counts": "off", "counts_exact": False}
    objects = acc.get("objects", "unavailable")
    have_objects = objects not in ("unavailable",) and not str(objects).startswith("unavailable")
    allocator = "active" if _pydebug.active else "off (-X malloc=off or objects)"
    counts = acc.get("counts", "off")
    counts_txt = {"tracer": "exact (reference tracer)",
                  "allocator": "approximate on free lists (debug allocator's events)"}.get(
        counts, "when asked (pydebug.getcounts(); exact with the reference tracer on 3.13.3+)")
    backend = _pydebug.TRACE_BACKEND
    native_d = bool(build["Py_DEBUG"])
    return [
        ("Py_REF_DEBUG total refcount", "yes" if runtime["sys.gettotalrefcount"] else "no",
         "exact deltas (%s)" % objects if have_objects else "needs -X malloc=on or objects"),
        ("Py_TRACE_REFS object listing", "yes" if runtime["sys.getobjects"] else "no",
         "pydebug.getobjects (%s)" % objects if have_objects else "needs -X malloc=on or objects"),
        ("PYTHONDUMPREFS dump at exit", "yes" if runtime["sys.getobjects"] else "no",
         "-X dumprefs" if have_objects else "needs -X malloc=on or objects"),
        ("PYMALLOC_DEBUG / malloc stats", "yes" if native_d else "PYTHONMALLOC=debug",
         "debug allocator: %s; PYTHONMALLOCSTATS" % allocator),
        ("COUNT_ALLOCS counts", "no", counts_txt),
        ("LLTRACE", "yes (__lltrace__)" if native_d else "no",
         "-X lltrace%s, %s" % ("" if native_d else ", __lltrace__", backend)),
        ("CALL_PROFILE callstats", "no", "pydebug.callstats(), %s" % backend),
        ("WITH_TSC tscdump", "no", "pydebug.settscdump(), %s" % backend),
    ]


def render(info):
    out = ["python-debug config: %s (%s)" % (info["runtime"]["executable"],
                                            info["runtime"]["version"]),
           "pyconfig.h: %s%s" % (info["pyconfig_h"],
                                 "  (unreadable: %s)" % info["pyconfig_error"]
                                 if info["pyconfig_error"] else ""),
           "", "build configuration:"]
    for k, v in info["build"].items():
        out.append("  %-16s %s" % (k, "?" if v is None else v))
    out += ["", "at run time:"]
    for k, v in info["runtime"].items():
        out.append("  %-22s %s" % (k, v))
    if info["checks"]:
        out += ["", "consistency:"]
        for what, ok in info["checks"]:
            out.append("  %-48s %s" % (what, "ok" if ok else "MISMATCH"))
    out += ["", "%-32s %-22s %s" % ("facility", "native", "through python-debug")]
    for name, native, ours in info["facilities"]:
        out.append("%-32s %-22s %s" % (name, native, ours))
    return "\n".join(out)


def main(args):
    if args.python:
        if not os.access(FRONT, os.X_OK):
            print("python-debug config: no front end at %s (run make)" % FRONT, file=sys.stderr)
            return 2
        cmd = [FRONT, "--python", args.python, "-m", "pydebug", "config"]
        if args.json:
            cmd.append("--json")
        return subprocess.run(cmd).returncode
    info = gather()
    if args.json:
        print(json.dumps(info, indent=1))
    else:
        print(render(info))
    return 1 if any(not ok for _, ok in info["checks"]) else 0
