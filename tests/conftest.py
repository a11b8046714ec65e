import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The firmware side (drivers, sim, app) is importable on CPython for tests.
for p in (os.path.join(ROOT, "firmware", "lib"), os.path.join(ROOT, "firmware")):
    if p not in sys.path:
        sys.path.insert(0, p)
