"""Where the host tools find the firmware, the bundled data and their work folders.

Two layouts, one API:
- a source checkout (``make setup`` installs it editable): the firmware is the
  repository's ``firmware/``, the demo session ``tests/traces/``, and build
  products go to ``build/`` beside them;
- an installed wheel (``pip install``/``pipx install``, no checkout anywhere):
  the wheel carries the same files as package data, copied from the
  repository when the wheel is built (``heeldrop/_firmware``,
  ``heeldrop/_traces``); build products go to the user's cache folder
  (``$XDG_CACHE_HOME/heeldrop`` or ``~/.cache/heeldrop``), never into the
  installed package.

    from heeldrop import resources
    resources.firmware_dir()          # main.py, app.py, lib/heelcore, drivers, boards, sim
    resources.firmware_lib()          # firmware_dir()/lib (heelcore) for the unix port's path
    resources.demo_trace()            # the bundled two-sided demo session (trace CSV)
    resources.work_dir("sim-mpy")     # a folder for build products, created
"""
import hashlib
import os

_PKG = os.path.dirname(os.path.abspath(__file__))
_CHECKOUT = os.path.dirname(os.path.dirname(_PKG))  # host/heeldrop -> the repository root
_FIRMWARE_DATA = os.path.join(_PKG, "_firmware")
_TRACES_DATA = os.path.join(_PKG, "_traces")


def installed():
    """True when running from an installed wheel (the package carries its own
    firmware), False in a source checkout."""
    return os.path.isfile(os.path.join(_FIRMWARE_DATA, "app.py"))


def checkout_root():
    """The repository root when running from a source checkout, else None."""
    if installed():
        return None
    if os.path.isfile(os.path.join(_CHECKOUT, "firmware", "app.py")):
        return _CHECKOUT
    return None


def firmware_dir():
    """The firmware sources: main.py, app.py, ..., lib/heelcore, drivers, boards, sim."""
    if installed():
        return _FIRMWARE_DATA
    return os.path.join(_CHECKOUT, "firmware")


def require_firmware():
    """firmware_dir(), or a UserError that says what to do when it is missing."""
    d = firmware_dir()
    if not os.path.isfile(os.path.join(d, "app.py")):
        from heeldrop.errors import UserError
        raise UserError("the firmware sources are missing (looked in %s): this heeldrop is neither a source "
                        "checkout nor a complete install; reinstall it (pipx install heeldrop, or make setup "
                        "in a checkout)" % d, 1)
    return d


def firmware_lib():
    """firmware_dir()/lib: the root that holds heelcore on the board and in the unix port."""
    return os.path.join(firmware_dir(), "lib")


def traces_dir():
    if installed():
        return _TRACES_DATA
    return os.path.join(_CHECKOUT, "tests", "traces")


def demo_trace():
    """The bundled demo session: a simulated two-sided set (trace CSV, with its
    .truth.json beside it)."""
    return os.path.join(traces_dir(), "demo_session.csv")


def cache_root():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "heeldrop")


def work_dir(name, create=True):
    """A folder for build products (compiled .mpy files and the like), created
    unless create is False.

    In a checkout: build/NAME. Installed: a folder in the user's cache, one per
    installed copy and version, so two installs never share stale products."""
    root = checkout_root()
    if root is not None:
        path = os.path.join(root, "build", name)
    else:
        from heelcore import VERSION
        key = hashlib.sha256(("%s\0%s" % (os.path.realpath(_PKG), VERSION)).encode()).hexdigest()[:12]
        path = os.path.join(cache_root(), "%s-%s" % (VERSION, key), name)
    if create:
        os.makedirs(path, exist_ok=True)
    return path
