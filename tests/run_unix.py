# Tiny test runner for the MicroPython unix port (also runs on CPython).
# Usage: micropython tests/run_unix.py tests/shared/test_x.py [...]
# Finds test_* functions in each file, runs them, prints one line per failure
# and a closing line "unix-port: N passed, N failed"; exits with the failure count.
import sys

_parts = __file__.split("/")[:-2]
ROOT = "/".join(_parts) if _parts else "."
if not ROOT:
    ROOT = "/"
for p in (ROOT + "/firmware/lib", ROOT + "/firmware", ROOT + "/tests/shared"):
    if p not in sys.path:
        sys.path.insert(0, p)


def run_file(path, only=None):
    if "/" in path:
        d = path.rsplit("/", 1)[0]
        if d not in sys.path:
            sys.path.insert(0, d)
    name = path.rsplit("/", 1)[-1][:-3]
    mod = __import__(name)
    passed = failed = 0
    for attr in sorted(dir(mod)):
        if not attr.startswith("test_"):
            continue
        if only and attr not in only:
            continue
        fn = getattr(mod, attr)
        try:
            fn()
            passed += 1
        except Exception as e:  # report and go on
            failed += 1
            print("FAIL %s::%s: %s: %s" % (path, attr, type(e).__name__, e))
            if hasattr(sys, "print_exception"):
                sys.print_exception(e)
    return passed, failed


def main(argv):
    total_p = total_f = 0
    for path in argv:
        p, f = run_file(path)
        total_p += p
        total_f += f
    print("unix-port: %d passed, %d failed" % (total_p, total_f))
    return total_f


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
