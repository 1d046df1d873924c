"""Write STAMP: python-debug's version and a hash of every file a host is
built from (meson.build installs it beside those files).

    python tools/srcstamp.py VERSION SOURCE_ROOT OUT"""
import hashlib
import os
import sys


def main(version, root, out):
    h = hashlib.sha256()
    dirs = ["src/core", "src/py", "src/py/interp", "src/launcher", "src/python/pydebug"]
    for d in dirs:
        for name in sorted(os.listdir(os.path.join(root, d))):
            if name.endswith((".c", ".h", ".py")):
                h.update(("%s/%s\0" % (d, name)).encode())
                with open(os.path.join(root, d, name), "rb") as f:
                    h.update(f.read())
    with open(out, "w") as f:
        f.write("%s-%s\n" % (version, h.hexdigest()[:20]))


main(*sys.argv[1:])
