"""python-debug -m pydebug abi [--python PATH] [--json] FILE_OR_DIR...

For each extension module (.so): the ABI it was built for - the tag in its
name, the interpreter symbols it needs (read from its ELF dynamic symbol
table by python-debug's own reader, _pydebug.elf_symbols), signs of a debug
(Py_REF_DEBUG) or trace-refs build - and whether it will load into the
interpreter (the running one, or --python PATH), and why not: its name is
not one the interpreter's import system looks for (the seed's "_d" split:
debug builds have a "d" in their tag), or it needs symbols only another
build exports (a debug build's reference total, a trace-refs build's object
list)."""
import json
import os
import re
import subprocess
import sys

import _pydebug

TAG = re.compile(r"\.(cpython-(\d)(\d+)([a-z]*)-[^.]+|abi3)\.so$")

# Symbols an extension built against a debug or trace-refs interpreter's
# headers needs, through the inline Py_INCREF/Py_DECREF of that build.
DEBUG_SIGNS = ("_Py_RefTotal", "_Py_NegativeRefcount", "_Py_IncRefTotal", "_Py_DecRefTotal",
               "_Py_INCREF_IncRefTotal", "_Py_DECREF_DecRefTotal", "_Py_IncRefTotal_DO_NOT_USE_THIS",
               "_Py_DecRefTotal_DO_NOT_USE_THIS")
TRACE_REFS_SIGNS = ("_Py_ForgetReference", "_Py_PrintReferences", "_Py_PrintReferenceAddresses",
                    "_Py_RefChain")

QUERY = r"""
import importlib.machinery, json, os, sys, sysconfig
v = sysconfig.get_config_var
lib = None
for name in (v("INSTSONAME"), v("LDLIBRARY")):
    for d in (v("LIBDIR"), os.path.join(v("LIBDIR") or "", v("MULTIARCH") or "")):
        if name and d and os.path.isfile(os.path.join(d, name)):
            lib = lib or os.path.join(d, name)
print(json.dumps({"executable": os.path.realpath(sys.executable), "version": sys.version.split()[0],
                  "abiflags": sys.abiflags, "suffixes": importlib.machinery.EXTENSION_SUFFIXES,
                  "libpython": lib}))
"""


def interpreter(path):
    """What the import system of the interpreter at path accepts and what
    its binaries export."""
    out = subprocess.run([path, "-I", "-c", QUERY], capture_output=True, text=True)
    if out.returncode != 0:
        raise OSError("cannot run %s: %s" % (path, (out.stderr.strip().splitlines() or ["?"])[-1]))
    info = json.loads(out.stdout)
    exported = set()
    for f in (info["executable"], info["libpython"]):
        if f:
            try:
                exported.update(_pydebug.elf_symbols(f)[1])
            except ValueError:
                pass
    info["exported"] = exported
    return info


def examine(path, target):
    """The facts about one extension module and the prediction."""
    base = os.path.basename(path)
    m = TAG.search(base)
    r = {"file": path, "tag": None, "built_for": "unknown (no ABI tag in the name)",
         "needs": [], "signs": [], "loads": False, "why": [], "warnings": []}
    if m:
        r["tag"] = m.group(1)
        if m.group(1) == "abi3":
            r["built_for"] = "the stable ABI (abi3), release builds"
        else:
            flags = m.group(4)
            built = "%s.%s" % (m.group(2), m.group(3))
            if built != ".".join(target["version"].split(".")[:2]):
                r["warnings"].append(
                    "built for CPython %s, this is %s: it loads (nothing checks), but the object "
                    "layouts and inline macros it was compiled with are another version's"
                    % (built, target["version"]))
            r["built_for"] = "CPython %s.%s %s" % (m.group(2), m.group(3),
                                                  "debug build (d)" if "d" in flags else "release build")
    try:
        undefined, _ = _pydebug.elf_symbols(path)
    except ValueError as e:
        r["why"].append(str(e))
        return r
    needs = sorted(s for s in undefined if s.startswith(("Py", "_Py")))
    r["needs"] = needs
    if any(s.startswith(DEBUG_SIGNS) for s in needs):
        r["signs"].append("needs a debug build's reference total (Py_REF_DEBUG)")
    if any(s in TRACE_REFS_SIGNS for s in needs):
        r["signs"].append("needs a trace-refs build's object list (Py_TRACE_REFS)")
    if not any(base.endswith(s) for s in target["suffixes"]):
        r["why"].append("its name does not end in one of this interpreter's extension suffixes (%s)"
                        % ", ".join(target["suffixes"]))
    missing = [s for s in needs if s not in target["exported"]]
    if missing:
        r["why"].append("this interpreter does not export %d symbol(s) it needs: %s%s"
                        % (len(missing), ", ".join(missing[:6]), ", ..." if len(missing) > 6 else ""))
    r["loads"] = not r["why"]
    return r


def files(args):
    out = []
    for a in args:
        if os.path.isdir(a):
            for root, _, names in os.walk(a):
                out += [os.path.join(root, n) for n in sorted(names) if n.endswith(".so")]
        elif os.path.isfile(a):
            out.append(a)
        else:
            raise FileNotFoundError(a)
    return out


def main(args):
    try:
        target = interpreter(args.python or sys.executable)
        paths = files(args.paths)
    except (OSError, FileNotFoundError) as e:
        print("python-debug abi: %s" % (e.args[0] if isinstance(e, FileNotFoundError) and e.args
                                         else e), file=sys.stderr)
        return 2
    results = [examine(p, target) for p in paths]
    if args.json:
        print(json.dumps({"interpreter": {k: target[k] for k in ("executable", "version", "abiflags",
                                                                 "suffixes", "libpython")},
                          "modules": results}, indent=1))
        return 0
    print("interpreter: %s (%s%s)" % (target["executable"], target["version"],
                                      ", debug build" if "d" in target["abiflags"] else ""))
    for r in results:
        print("\n%s\n  tag:       %s\n  built for: %s" % (r["file"], r["tag"], r["built_for"]))
        print("  needs:     %d interpreter symbols" % len(r["needs"]))
        for s in r["signs"]:
            print("  sign:      " + s)
        print("  loads:     " + ("yes" if r["loads"] else "no"))
        for w in r["why"]:
            print("    because " + w)
        for w in r["warnings"]:
            print("  warning:   " + w)
    return 0
