# heelcore: the shared detection engine of heeldrop.
#
# Written in the Python subset that MicroPython runs; imported unchanged by the
# firmware (on the board and in the unix port) and by the host package.
# Modules here import only math, array, struct and micropython (const, and
# the viper/native emitters; on CPython the stand-ins of heelcore.mpcompat):
# never machine or time. Time is passed in as integer milliseconds; all tick
# arithmetic goes through heelcore.ticks.
VERSION = "0.1.0"
