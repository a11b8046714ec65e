# Board entry point: MicroPython runs this file at boot.
#
# app.run() picks the board file (boards.detect() from the firmware's
# machine string), probes the IMU on the board's I2C, loads /heeldrop.json,
# starts coaching and recording, and loops until Ctrl-C (which leaves the
# REPL, so mpremote and Thonny work as on any board). See firmware/app.py.
import app

app.run(board=None)
