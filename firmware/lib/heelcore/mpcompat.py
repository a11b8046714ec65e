# CPython stand-ins for MicroPython's compiler built-ins, so that heelcore,
# the drivers and the app run unchanged on the host (replay, tests). A module
# that uses viper or native code imports them only where `import
# micropython` fails:
#
#     try:
#         import micropython
#         from micropython import const
#     except ImportError:  # CPython: the same code, interpreted
#         from heelcore.mpcompat import const, micropython, ptr8, ptr16, ptr32
#
# On CPython the decorators are identities and a ptr cast returns the buffer
# itself, so a viper function runs as plain Python over the same arrays:
# ptr32 over an array('i') loads and stores signed 32-bit words, as on a
# 32-bit board (a value that would not fit raises OverflowError); ptr16 over
# an array('h') loads signed values where viper's are unsigned (the code
# sign-extends with "if v >= 32768: v -= 65536", a no-op here). uint is the
# viper return type for unsigned words. Never imported on a board.


class micropython:  # noqa: N801 - stands in for the module
    @staticmethod
    def viper(f):
        return f

    @staticmethod
    def native(f):
        return f


def const(x):
    return x


def ptr8(buf):
    return buf


def ptr16(buf):
    return buf


def ptr32(buf):
    return buf


uint = int
