"""Print the compile and link flags for embedding or extending the
interpreter that runs this script (what `python3-config --embed` gives, but
also for a venv, which has no -config script).

    python tools/pyflags.py cflags|ldflags|ext-suffix|tag
"""
import sys
import sysconfig

v = sysconfig.get_config_var


def main(what):
    if what == "cflags":
        print("-I" + sysconfig.get_paths()["include"])
    elif what == "ldflags":
        libdir = v("LIBDIR")
        lib = "python" + v("LDVERSION")
        extra = " ".join(x for x in ((v("LIBS") or ""), (v("SYSLIBS") or "")) if x)
        print(f"-L{libdir} -Wl,-rpath,{libdir} -l{lib} {extra}".strip())
    elif what == "ext-suffix":
        print(v("EXT_SUFFIX"))
    elif what == "tag":
        print(f"cpython-{sys.version_info[0]}.{sys.version_info[1]}{sys.abiflags}")
    else:
        sys.exit(f"pyflags.py: unknown request {what!r}")


main(sys.argv[1] if len(sys.argv) > 1 else "")
