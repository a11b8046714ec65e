# Freeze heeldrop into an rp2 build (Pico, Pico W, Pico 2) with the session
# log in a raw flash region (hardware/README.md, "Build and flash"):
#
#   make -C ports/rp2 BOARD=RPI_PICO FROZEN_MANIFEST=/path/to/heeldrop/firmware/boot/manifest_rp2.py
#
# What the port's boards/manifest.py freezes, but our _boot.py instead of its
# own (flashboot.py: littlefs on the part of the filesystem region after the
# raw log region; the port's would format a littlefs of that size away).
freeze("$(PORT_DIR)/modules", "rp2.py")
include("$(MPY_DIR)/extmod/asyncio")
require("neopixel")
module("_boot.py", base_path="rp2", opt=2)
# heeldrop's modules, without the port's manifest (its _boot.py)
include("../manifest.py", port_manifest=False)
