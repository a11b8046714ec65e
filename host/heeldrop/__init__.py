"""heeldrop host tools: replay, reports and a virtual device for the heel drop coach."""
# When this package is imported by the `heeldrop` program (not by a test or
# another program), a Ctrl-C from here until the command starts prints one
# line and exits 130 instead of a traceback: the imports that follow take
# 0.1-0.5 s. heeldrop.cli takes over from there (see its docstring). This
# comes first, before any import that goes through the import machinery.
import os as _os
import sys as _sys


def _exit_interrupted(signum=None, frame=None):
    try:
        _sys.stdout.flush()
    except Exception:  # noqa: BLE001
        pass
    try:
        _os.write(2, b"heeldrop: interrupted\n")
    except OSError:
        pass
    _os._exit(130)


_PROGRAM = _os.path.basename(_sys.argv[0] if getattr(_sys, "argv", None) else "").startswith("heeldrop")
if _PROGRAM:
    # _signal is loaded at start-up: no import machinery runs (nothing to interrupt)
    import _signal

    _signal.signal(_signal.SIGINT, _exit_interrupted)

# One version for the host tools and the firmware: heelcore.VERSION, which the
# board reports in its HELLO; pyproject.toml reads it too (dynamic version).
from heelcore import VERSION as __version__  # noqa: E402, F401
