"""The virtual device's flash on the host: the littlefs image `heeldrop sim`
keeps in FLASH/flash.img (firmware/sim/flash.py), read and written with the
same littlefs code the board runs (the MicroPython unix port).

    from heeldrop import simflash
    simflash.read_files("out/flash")        # {"/sessions/s0001.hdl": b"...", ...}
    simflash.read_file("out/flash", "/heeldrop.json")
    simflash.list_files("out/flash")        # {"/heeldrop.json": 61, ...}
    simflash.session_paths("out/flash")     # the session logs copied out: [".../s0001.hdl", ...]
    simflash.put("out/flash", "/heeldrop.json", b"...")   # (no sim running on it)
    simflash.remove("out/flash", "/lib/heelcore/engine.py")
    simflash.usage("out/flash")             # (blocks, free blocks, block size)

Read it while the sim runs only for sessions already closed: the image
changes under the reader (what a power cut would leave at that instant).
"""
import os
import subprocess
import tempfile

from heeldrop.errors import UserError

IMAGE = "flash.img"


def image_path(flash_dir):
    return os.path.join(flash_dir, IMAGE)


def _run(flash_dir, cmd, *args, must_exist=True):
    from heeldrop.cmd_sim import build_firmware, micropython_bin

    image = image_path(flash_dir)
    if must_exist and not os.path.exists(image):
        raise UserError("%s: no littlefs image (`heeldrop sim --flash %s` makes one)" % (image, flash_dir))
    env = dict(os.environ, MICROPYPATH=build_firmware())
    r = subprocess.run([micropython_bin(), "-m", "sim.flash", cmd, image] + list(args), capture_output=True,
                       env=env, timeout=300)
    if r.returncode:
        raise UserError("%s: %s failed: %s" % (image, cmd, r.stderr.decode(errors="replace").strip()[-300:]))
    return r.stdout.decode()


def read_files(flash_dir):
    """{path: bytes} of every file on the image (paths from its root)."""
    out = {}
    for line in _run(flash_dir, "dump").splitlines():
        path, _, hexdata = line.partition("\t")
        out[path] = bytes.fromhex(hexdata)
    return out


def read_file(flash_dir, path):
    """The bytes of one file on the image (reads nothing else: safe while
    the sim writes other files)."""
    return bytes.fromhex(_run(flash_dir, "cat", path).strip())


def list_files(flash_dir):
    """{path: size} of every file on the image."""
    out = {}
    for line in _run(flash_dir, "ls").splitlines():
        path, _, size = line.partition("\t")
        out[path] = int(size)
    return out


def usage(flash_dir):
    """(blocks, free blocks, block size) as littlefs's statvfs gives them."""
    b, f, s = _run(flash_dir, "df").split()
    return int(b), int(f), int(s)


def copy_out(flash_dir, dest, folder=""):
    """Copy the files under folder (e.g. "/sessions"; all by default) into
    the host folder dest; returns the host paths written."""
    os.makedirs(dest, exist_ok=True)
    return _run(flash_dir, "get", os.path.abspath(dest), folder).splitlines()


def session_paths(flash_dir, dest=None):
    """The session logs (/sessions/s*.hdl) copied out to dest (default
    FLASH/sessions-copy, replaced), as a sorted list of host paths."""
    import shutil

    dest = dest or os.path.join(flash_dir, "sessions-copy")
    shutil.rmtree(dest, ignore_errors=True)
    paths = copy_out(flash_dir, dest, "/sessions")
    return sorted(p for p in paths if os.path.basename(p).startswith("s") and p.endswith(".hdl"))


def session_file(flash_dir, sid, dest=None):
    """Host path of session sid's log, copied out of the image."""
    for p in session_paths(flash_dir, dest):
        if int("".join(c for c in os.path.basename(p) if c.isdigit()) or -1) == int(sid):
            return p
    raise FileNotFoundError("session %s not on the flash image in %s" % (sid, flash_dir))


def put(flash_dir, path, data):
    """Write data as path on the image (made and formatted if there is none yet)."""
    os.makedirs(flash_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="heeldrop-put-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        _run(flash_dir, "put", path, tmp, must_exist=False)
    finally:
        os.unlink(tmp)


def remove(flash_dir, path):
    _run(flash_dir, "rm", path)
