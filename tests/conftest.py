import os
import sys

import pytest

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


# `make test` runs in two processes (pytest-xdist, `-n 2 --dist loadfile`):
# there pytest prints its dots as results come back from both, mixed. This
# prints instead one line a test file when its last test is done (its
# letters, the share done), as a run in one process does.
class _LineAFile:
    def __init__(self, config):
        self.config = config
        self.total = {}      # file -> tests
        self.letters = {}    # file -> result letters so far
        self.done = {}       # file -> tests finished (teardown reported)
        self.finished = 0

    def pytest_xdist_node_collection_finished(self, node, ids):
        if not self.total:
            for nodeid in ids:
                f = nodeid.split("::")[0]
                self.total[f] = self.total.get(f, 0) + 1

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_report_teststatus(self, report, config):
        category, letter, word = yield
        if letter and getattr(report, "nodeid", None):
            f = report.nodeid.split("::")[0]
            self.letters[f] = self.letters.get(f, "") + letter
        return category, "", word or category  # the letter goes on the file's line

    def pytest_runtest_logreport(self, report):
        if report.when != "teardown":
            return
        f = report.nodeid.split("::")[0]
        self.done[f] = self.done.get(f, 0) + 1
        self.finished += 1
        if self.done[f] == self.total.get(f):
            tr = self.config.pluginmanager.get_plugin("terminalreporter")
            n = sum(self.total.values()) or 1
            bad = any(c in self.letters.get(f, "") for c in "FE")
            tr.write_line("%s %s [%3d%%]" % (f, self.letters.get(f, ""), 100 * self.finished // n),
                          **({"red": True} if bad else {"green": True}))


def pytest_configure(config):
    if (getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput")
            and config.get_verbosity() <= 0):
        config.pluginmanager.register(_LineAFile(config), "heeldrop-line-a-file")


# The files that take longest (pytest --durations, summed a file), first, so
# that two processes finish together instead of one running a long file at
# the end while the other waits (used with --no-loadscope-reorder; a run in
# one process keeps the files in their order).
SLOW_FILES_FIRST = (
    "tests/host/test_firmware_app.py", "tests/host/test_parity.py", "tests/host/test_accuracy.py",
    "tests/host/test_unix32.py", "tests/host/test_logstore_host.py", "tests/host/test_e2e_integrity.py",
    "tests/host/test_e2e_pty.py", "tests/host/test_unix_port.py", "tests/host/test_cli_errors.py",
    "tests/host/test_synth.py", "tests/host/test_wheel.py",
)


def pytest_collection_modifyitems(session, config, items):
    if hasattr(config, "workerinput"):
        rank = {f: i for i, f in enumerate(SLOW_FILES_FIRST)}
        items.sort(key=lambda it: rank.get(it.nodeid.split("::")[0], len(rank)))
