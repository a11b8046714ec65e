"""Errors meant for the user: printed as one line by the CLI, with an exit code.

Exit codes shared by every command (each command's help lists its own too):
0 ok, 2 bad usage or a file that cannot be read or written, 70 internal
error (a bug), 130 interrupted.
"""
import errno
import os
import sys
import tempfile
import time
import traceback

EXIT_USAGE = 2
EXIT_BUG = 70
EXIT_INTERRUPTED = 130


class UserError(Exception):
    def __init__(self, message, code=2):
        super().__init__(message)
        self.code = code


# errno -> (what happened, what to do)
_OS_HINTS = {
    errno.ENOENT: ("no such file or folder", "check the path"),
    errno.EACCES: ("permission denied", "pick a file or folder you may use, or change its permissions"),
    errno.EPERM: ("not permitted", "pick a file or folder you may use, or change its permissions"),
    errno.EROFS: ("read-only file system", "pick a folder on a writable disk"),
    errno.ENOSPC: ("no space left on the disk", "free some space or pick another disk"),
    errno.EDQUOT: ("disk quota exceeded", "free some space or pick another disk"),
    errno.EISDIR: ("is a folder", "give a file name"),
    errno.ENOTDIR: ("a part of the path is not a folder", "check the path"),
    errno.EEXIST: ("already exists", "pick another name or remove it first"),
    errno.ENAMETOOLONG: ("name too long", "pick a shorter path"),
    errno.EMFILE: ("too many open files", "close other programs and try again"),
    errno.EIO: ("input/output error", "the disk or card may be failing: copy what you can elsewhere"),
}


def describe_oserror(e):
    """One line for an OSError: the path, what happened, what to do.

    For a missing file whose folder is missing too, the folder is named: that
    is what to fix (`download --dest no/such/dir`)."""
    path = getattr(e, "filename", None)
    path2 = getattr(e, "filename2", None)
    code = getattr(e, "errno", None)
    what, todo = _OS_HINTS.get(code, (None, None))
    if what is None:
        what = e.strerror or str(e) or type(e).__name__
        todo = "check the path and try again"
    if path is None:
        return "%s; %s" % (" ".join(str(e).split()) or what, todo)
    path = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
    if code == errno.ENOENT:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            missing = folder
            while True:
                up = os.path.dirname(missing)
                if up == missing or os.path.isdir(up):
                    break
                missing = up
            return "%s: the folder %s does not exist; create it first or give another one" % (path, missing)
    where = path if path2 is None else "%s -> %s" % (path, os.fsdecode(path2) if not isinstance(path2, str) else path2)
    return "%s: %s; %s" % (where, what, todo)


def report_bug(exc, argv=()):
    """Write the traceback of an unexpected exception to a file; return the one line to print."""
    name = "heeldrop-crash-%s-%d.txt" % (time.strftime("%Y%m%d-%H%M%S"), os.getpid())
    text = "heeldrop %s\nargv: %r\npython: %s\n\n%s" % (
        _version(), list(argv), sys.version.replace("\n", " "),
        "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    where = None
    for d in (os.environ.get("HEELDROP_HOME"), tempfile.gettempdir()):
        if not d:
            continue
        try:
            p = os.path.join(d, name)
            with open(p, "w", encoding="utf-8") as f:
                f.write(text)
            where = p
            break
        except OSError:
            continue
    msg = " ".join(("%s: %s" % (type(exc).__name__, exc)).split())[:200]
    if where:
        return "internal error (%s); this is a bug: please report it with %s (HEELDROP_DEBUG=1 shows it here)" % (
            msg, where)
    return "internal error (%s); this is a bug: please report it (HEELDROP_DEBUG=1 shows the details)" % msg


def _version():
    try:
        from heeldrop import __version__
        return __version__
    except Exception:  # noqa: BLE001
        return "?"
