# Integer arithmetic for the engine: what every port computes bit for bit.
#
# A board has no double-precision floats (RP2040 and ESP32 builds use single
# precision) and 32-bit viper integers, so the engine keeps floats out of
# everything that decides: angles come from a table atan2, lengths from an
# integer square root, unit vectors are integers scaled by 2**14 (AX_ONE),
# the minimum-jerk profile is evaluated in Q14 fixed point. The viper
# functions keep every intermediate within 32 bits for the ranges they state;
# tests/host/test_parity.py checks that on the corpus (a model of a 32-bit
# board with single-precision floats).
import array

try:
    import micropython
except ImportError:  # CPython: the same code, interpreted
    from heelcore.mpcompat import micropython, ptr32

AX_ONE = 16384  # unit vectors are ints scaled by 2**14
Q14 = 16384  # fixed point fractions (minimum-jerk profile)


def zeros(typecode, n):
    """array(typecode) of n zeros in one allocation: built from a range (a
    list or bytes of zeros would be a temporary of the array's size, freed
    beside it: a hole in a board's heap, where code and data share 246 KB)."""
    a = array.array(typecode, range(n))
    for i in range(n):
        a[i] = 0
    return a


# atan(i / 256) in micro-degrees, i = 0..256: a literal, so that every port
# (single or double precision floats) computes the same angles
_ATAN = array.array("i", (
    0, 223811, 447614, 671404, 895174, 1118916, 1342624, 1566291,
    1789911, 2013475, 2236979, 2460415, 2683775, 2907054, 3130245, 3353340,
    3576334, 3799220, 4021990, 4244639, 4467159, 4689544, 4911788, 5133884,
    5355825, 5577605, 5799218, 6020656, 6241914, 6462986, 6683864, 6904543,
    7125016, 7345278, 7565321, 7785140, 8004729, 8224081, 8443191, 8662052,
    8880659, 9099006, 9317086, 9534894, 9752425, 9969672, 10186630, 10403293,
    10619655, 10835712, 11051457, 11266885, 11481991, 11696770, 11911215, 12125323,
    12339087, 12552503, 12765566, 12978270, 13190611, 13402583, 13614183, 13825404,
    14036243, 14246695, 14456755, 14666419, 14875682, 15084540, 15292988, 15501022,
    15708638, 15915832, 16122599, 16328936, 16534838, 16740302, 16945323, 17149899,
    17354025, 17557697, 17760912, 17963666, 18165957, 18367779, 18569131, 18770008,
    18970408, 19170327, 19369762, 19568710, 19767169, 19965134, 20162604, 20359575,
    20556045, 20752011, 20947471, 21142421, 21336859, 21530784, 21724192, 21917080,
    22109448, 22301293, 22492612, 22683403, 22873665, 23063395, 23252592, 23441254,
    23629378, 23816963, 24004008, 24190510, 24376469, 24561882, 24746748, 24931066,
    25114835, 25298053, 25480718, 25662830, 25844388, 26025389, 26205835, 26385722,
    26565051, 26743821, 26922030, 27099677, 27276763, 27453287, 27629247, 27804643,
    27979474, 28153741, 28327442, 28500577, 28673146, 28845149, 29016584, 29187453,
    29357754, 29527487, 29696653, 29865250, 30033280, 30200743, 30367637, 30533964,
    30699723, 30864914, 31029538, 31193595, 31357085, 31520009, 31682366, 31844157,
    32005383, 32166044, 32326140, 32485672, 32644640, 32803045, 32960888, 33118169,
    33274888, 33431047, 33586646, 33741685, 33896167, 34050090, 34203457, 34356267,
    34508523, 34660224, 34811372, 34961967, 35112011, 35261505, 35410448, 35558844,
    35706691, 35853993, 36000749, 36146961, 36292630, 36437757, 36582343, 36726389,
    36869898, 37012869, 37155304, 37297204, 37438572, 37579407, 37719711, 37859486,
    37998732, 38137452, 38275647, 38413317, 38550465, 38687092, 38823199, 38958787,
    39093859, 39228415, 39362457, 39495987, 39629005, 39761514, 39893515, 40025010,
    40156000, 40286486, 40416470, 40545954, 40674940, 40803428, 40931420, 41058919,
    41185925, 41312441, 41438467, 41564006, 41689058, 41813627, 41937713, 42061318,
    42184443, 42307091, 42429263, 42550960, 42672185, 42792939, 42913223, 43033039,
    43152390, 43271276, 43389699, 43507662, 43625165, 43742211, 43858801, 43974936,
    44090620, 44205852, 44320635, 44434971, 44548861, 44662308, 44775312, 44887875,
    45000000,
))


@micropython.viper
def atan2_u(y: int, x: int) -> int:
    # atan2(y, x) in micro-degrees from integers: the table with linear
    # interpolation (error < 0.0001 deg). |x|, |y| < 2**17.
    # (in viper, "-x" inside a conditional expression clobbers x in this
    # MicroPython: write "0 - x")
    T = ptr32(_ATAN)
    ax = x if x >= 0 else 0 - x
    ay = y if y >= 0 else 0 - y
    if ax == 0 and ay == 0:
        return 0
    if ay <= ax:
        r = (ay << 14) // ax
    else:
        r = (ax << 14) // ay
    i = r >> 6
    a = T[i]
    if i < 256:
        a += ((T[i + 1] - a) * (r & 63)) >> 6
    if ay > ax:
        a = 90000000 - a
    if x < 0:
        a = 180000000 - a
    if y < 0:
        a = 0 - a
    return a


@micropython.viper
def isqrt(n: int) -> int:
    # floor(sqrt(n)) for 0 <= n < 2**31, Newton's method from a power of two above
    if n <= 0:
        return 0
    g = 1
    m = n
    while m > 0:
        m >>= 2
        g <<= 1
    while True:
        h = (g + n // g) >> 1
        if h >= g:
            return g
        g = h


@micropython.viper
def vunit(v) -> int:
    # Scale the 3-vector v (array('i'), any int32 components) in place to a
    # unit vector * AX_ONE; returns 0 (and leaves v) if it is zero. The
    # components are first shifted so that the largest lies in [2**13, 2**14):
    # squares then sum below 2**30 and every step stays in 32 bits.
    p = ptr32(v)
    k32 = 65536
    k32 <<= 16  # 2**32 on a 64-bit port; never used on a 32-bit one
    x = p[0]
    if x >> 31 > 0:
        x -= k32
    y = p[1]
    if y >> 31 > 0:
        y -= k32
    z = p[2]
    if z >> 31 > 0:
        z -= k32
    m = x if x >= 0 else 0 - x
    a = y if y >= 0 else 0 - y
    if a > m:
        m = a
    a = z if z >= 0 else 0 - z
    if a > m:
        m = a
    if m == 0:
        return 0
    while m >= 16384:
        m >>= 1
        x >>= 1
        y >>= 1
        z >>= 1
    while m < 8192:
        m <<= 1
        x <<= 1
        y <<= 1
        z <<= 1
    n = int(isqrt(x * x + y * y + z * z))
    p[0] = (x << 14) // n
    p[1] = (y << 14) // n
    p[2] = (z << 14) // n
    return 1


@micropython.viper
def vangle(a, b) -> int:
    # the angle between two unit vectors (array('i'), * AX_ONE) in micro-degrees
    pa = ptr32(a)
    pb = ptr32(b)
    k32 = 65536
    k32 <<= 16
    a0 = pa[0]
    if a0 >> 31 > 0:
        a0 -= k32
    a1 = pa[1]
    if a1 >> 31 > 0:
        a1 -= k32
    a2 = pa[2]
    if a2 >> 31 > 0:
        a2 -= k32
    b0 = pb[0]
    if b0 >> 31 > 0:
        b0 -= k32
    b1 = pb[1]
    if b1 >> 31 > 0:
        b1 -= k32
    b2 = pb[2]
    if b2 >> 31 > 0:
        b2 -= k32
    d = (a0 * b0 + a1 * b1 + a2 * b2) >> 14
    c0 = (a1 * b2 - a2 * b1) >> 14
    c1 = (a2 * b0 - a0 * b2) >> 14
    c2 = (a0 * b1 - a1 * b0) >> 14
    c = int(isqrt(c0 * c0 + c1 * c1 + c2 * c2))
    return int(atan2_u(c, d))


def vcross(o, a, b):
    """o = a x b for 3-vectors * AX_ONE (o neither a nor b; not normalised:
    vunit it). Products stay under 2**30, a board's small ints."""
    o[0] = (a[1] * b[2] - a[2] * b[1]) >> 14
    o[1] = (a[2] * b[0] - a[0] * b[2]) >> 14
    o[2] = (a[0] * b[1] - a[1] * b[0]) >> 14


def rdiv(a, b):
    """a / b rounded to the nearest integer, halves away from zero (b > 0)."""
    if a >= 0:
        return (a + b // 2) // b
    return -((b // 2 - a) // b)


def mj(s):
    """Minimum-jerk position fraction at normalised time s, both in Q14
    (every product below 2**30: a board's small ints, no allocation)."""
    s2 = s * s >> 14
    s3 = s2 * s >> 14
    return s3 * ((163840 - 15 * s + 6 * s2) >> 4) >> 10


def mj_inv(q):
    """The normalised time (Q14) at which the minimum-jerk profile reaches q (Q14)."""
    lo = 0
    hi = Q14
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if mj(mid) < q:
            lo = mid
        else:
            hi = mid
    return hi
