import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The firmware side (drivers, sim, app) is importable on CPython for tests.
for p in (os.path.join(ROOT, "firmware", "lib"), os.path.join(ROOT, "firmware")):
    if p not in sys.path:
        sys.path.insert(0, p)

# hypothesis keeps its examples under build/, not in the repository
try:
    from hypothesis import settings as _hs
    from hypothesis.database import DirectoryBasedExampleDatabase as _DB

    _hs.register_profile("heeldrop", database=_DB(os.path.join(ROOT, "build", "hypothesis")))
    _hs.load_profile("heeldrop")
except ImportError:
    pass
