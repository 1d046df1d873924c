"""python-debug -m pydebug leaks -- SCRIPT [ARGS] | -m MODULE [ARGS]
python-debug -m pydebug config [--python PATH] [--json]
python-debug -m pydebug abi [--python PATH] [--json] FILE_OR_DIR...
python-debug -m pydebug verify [--python PATH] [--json]
python-debug -m pydebug build VERSION [--source DIR] [--with-pydebug] [--with-trace-refs]
    [--without-pymalloc] [--with-address-sanitizer] [--prefix DIR] [--jobs N]

leaks: run a whole program and check its growth between the two points it marks
with pydebug.leaks_begin() and pydebug.leaks_end(): the references, blocks
and bytes it grew by, and what is left of what it made - by type, with a
classified sample and their allocation sites.  Exit status: the program's
own if it is not 0, else 1 when it leaked, 0 when it did not.

config: the interpreter's build configuration and which debug-build
facilities it has natively or through python-debug (see config.py).
abi: which ABI extension modules were built for and whether they load
into the interpreter (see abi.py).
verify: the seed's test plan against an interpreter (see verify.py).
build: build a debug interpreter from source and install it beside the
others as python3.X-debug (see build.py)."""
import argparse
import os
import runpy
import sys

from . import leaks


def main(argv):
    ap = argparse.ArgumentParser(prog="python-debug -m pydebug")
    sub = ap.add_subparsers(dest="command", required=True)
    lk = sub.add_parser("leaks", help="check a program's growth between two marked points")
    lk.add_argument("--report", metavar="FILE", help="also write the result as JSON")
    lk.add_argument("program", nargs=argparse.REMAINDER,
                    help="-- SCRIPT [ARGS] or -- -m MODULE [ARGS]")
    cf = sub.add_parser("config", help="the interpreter's build configuration")
    cf.add_argument("--python", metavar="PATH", help="another interpreter (through python-debug)")
    cf.add_argument("--json", action="store_true", help="print JSON")
    ab = sub.add_parser("abi", help="which ABI extension modules need; will they load")
    ab.add_argument("--python", metavar="PATH", help="the interpreter to load them into")
    ab.add_argument("--json", action="store_true", help="print JSON")
    ab.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    vf = sub.add_parser("verify", help="the seed's test plan: each facility, native and ours")
    vf.add_argument("--python", metavar="PATH", help="the interpreter to verify")
    vf.add_argument("--json", action="store_true", help="print JSON")
    from . import build
    build.parser(sub.add_parser("build", help="build a debug interpreter and install it "
                                "as python3.X-debug"))
    args = ap.parse_args(argv)
    if args.command == "build":
        return build.main(args)
    if args.command == "verify":
        from . import verify
        return verify.main(args)
    if args.command == "abi":
        from . import abi
        return abi.main(args)
    if args.command == "config":
        from . import config
        return config.main(args)
    prog = args.program[1:] if args.program[:1] == ["--"] else args.program
    if not prog or (prog[0] == "-m" and len(prog) < 2) or \
            (prog[0].startswith("-") and prog[0] != "-m"):
        ap.error("leaks: give the program after --: SCRIPT [ARGS] or -m MODULE [ARGS]")
    if prog[0] != "-m" and not os.path.isfile(prog[0]):
        ap.error("leaks: no such script: %s" % prog[0])
    status = 0
    leaks.leaks_name = " ".join(prog)
    try:
        if prog[0] == "-m":
            sys.argv = prog[1:]
            runpy.run_module(prog[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = prog
            runpy.run_path(prog[0], run_name="__main__")
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    if leaks._begin is not None:
        result = leaks.leaks_end()
    elif leaks._last is None:
        print("python-debug: the program never called pydebug.leaks_begin(); "
              "nothing was checked", file=sys.stderr)
        return status or 2
    else:
        result = leaks._last
    print(result.report(), file=sys.stderr)
    if args.report:
        import json
        with open(args.report, "w") as f:
            json.dump(result.as_dict(), f, indent=1)
    return status or (1 if result.leaked else 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
