# What the firmware's code costs in the heap, loaded from .mpy files and
# from a ROMFS image (bytecode and constants used in place, as frozen code
# is): run by `make bench` (heeldrop.bench) on the 32-bit unix port.
#
#   micropython code_heap.py [ROMFS_IMAGE]
#
# prints "code_heap_bytes=N" for the modules a board imports (native and
# viper machine code excluded: the unix port maps it outside its heap; a
# Pico holds it in the heap, heeldrop.bench adds its armv6m size).
import gc
import sys

MODS = ("heelcore", "heelcore.ticks", "heelcore.config", "heelcore.events", "heelcore.engine", "cues", "button",
        "app", "heelcore.minijson", "drivers", "drivers.mpu6050", "heelcore.crc", "heelcore.record", "logstore",
        "heelcore.proto", "link")


def main():
    img = None
    if len(sys.argv) > 1:
        import vfs

        with open(sys.argv[1], "rb") as f:
            img = f.read()  # the image stands for flash: read before the count
        vfs.mount(vfs.VfsRom(img), "/rom")
        sys.path.insert(0, "/rom")
    gc.collect()
    base = gc.mem_alloc()
    for m in MODS:
        __import__(m)
    gc.collect()
    print("code_heap_bytes=%d" % (gc.mem_alloc() - base))


main()
