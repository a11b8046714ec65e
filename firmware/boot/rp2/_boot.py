# The heeldrop frozen build's _boot.py for rp2 (in place of the port's own,
# which mounts littlefs over the whole filesystem region and formats it
# when that fails): littlefs on the part after the session log's raw region,
# found on the flash (flashboot.py). A flash that stock MicroPython
# formatted keeps its littlefs and its files; nothing is formatted without
# the owner (hardware/README.md, "Build and flash").
import flashboot

flashboot.mount_rp2()
del flashboot
