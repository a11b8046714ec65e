"""Read the virtual device's littlefs flash image (`heeldrop sim --fs lfs`) on the host.

    from heeldrop.simflash import read_files
    files = read_files("out/flash")        # {"/sessions/s0001.hdl": b"...", ...}

The image is mounted read-only by the MicroPython unix port (firmware/sim/flash.py,
`micropython -m sim.flash dump IMAGE`), the same littlefs code the board runs.
"""
import os
import subprocess

from heeldrop.errors import UserError


def read_files(flash_dir):
    from heeldrop.cmd_sim import build_firmware, micropython_bin

    image = os.path.join(flash_dir, "flash.img")
    if not os.path.exists(image):
        raise UserError("%s: no littlefs image (heeldrop sim --fs lfs --flash %s makes one)" % (image, flash_dir))
    env = dict(os.environ, MICROPYPATH=build_firmware())
    r = subprocess.run([micropython_bin(), "-m", "sim.flash", "dump", image], capture_output=True, env=env,
                       timeout=300)
    if r.returncode:
        raise UserError("%s: cannot read the image: %s" % (image, r.stderr.decode(errors="replace").strip()[-300:]))
    out = {}
    for line in r.stdout.decode().splitlines():
        path, _, hexdata = line.partition("\t")
        out[path] = bytes.fromhex(hexdata)
    return out
