"""The IMU error model (docs/DOMAIN.md §7(b) and §3.2): bias, warm-up drift,
noise, scale and cross-axis errors, g-sensitivity, offsets, the chip's low-pass
filter, sampling at the output rate, quantisation at the configured full-scale
range (so signals beyond it saturate as the chip's 16-bit registers do),
timestamp jitter and dropped samples.

Every parameter is drawn over its whole documented range, edges included
(``sample_errors``); ``overrides`` pin one of them for the robustness sweep.
"""
import math

import numpy as np

from .physics import FS

GYRO_LSB = 65.5     # LSB per deg/s at +-500 deg/s (MPU-6050, ICM-42688)
ACCEL_LSB = 8192.0  # LSB per g at +-4 g
# (gyro LSB per deg/s at +-500 deg/s, accel LSB per g at +-4 g) per chip family
IMU_LSB = {
    "mpu6050": (GYRO_LSB, ACCEL_LSB),
    "icm42688": (GYRO_LSB, ACCEL_LSB),
    "lsm6dsox": (1 / 0.0175, 1 / 0.000122),  # 17.5 mdps/LSB, 0.122 mg/LSB
}
GYRO_RANGES = (250, 500, 1000, 2000)   # deg/s full scale
ACCEL_RANGES = (2, 4, 8, 16)           # g full scale
# output rates of the corpus; the sweep also uses 12.5 Hz (beyond the edge)
RATES = (25, 50, 100, 200, 500, 1000)
SWEEP_RATES = (12.5,) + RATES


def lsb_for(imu, gyro_range=500, accel_range=4):
    """(gyro LSB per deg/s, accel LSB per g) of a chip at a full-scale range:
    the datasheet sensitivity at +-500 deg/s / +-4 g scaled by the range (the
    MPU-6050 and ICM-42688 tables: 131 / 65.5 / 32.8 / 16.4 and 16384 / 8192 /
    4096 / 2048; the LSM6DSOX: 8.75 / 17.5 / 35 / 70 mdps and 0.061 / 0.122 /
    0.244 / 0.488 mg per LSB)."""
    g500, a4 = IMU_LSB.get(imu, IMU_LSB["mpu6050"])
    if imu in ("mpu6050", "icm42688"):
        glsb = {250: 131.0, 500: 65.5, 1000: 32.8, 2000: 16.4}[gyro_range]
    else:
        glsb = g500 * 500.0 / gyro_range
    return glsb, a4 * 4.0 / accel_range


def check_rate(rate_hz, fs=FS):
    """The output rate must divide the internal rate into whole samples."""
    step = fs / float(rate_hz)
    if rate_hz <= 0 or abs(step - round(step)) > 1e-9:
        raise ValueError("rate %s Hz does not divide the internal %s Hz" % (rate_hz, fs))
    return int(round(step))


def dlpf_for_rate(rate_hz):
    """The DLPF setting a firmware would pick for an output rate (MPU-6050 steps)."""
    if rate_hz < 25:
        return 5.0
    if rate_hz <= 25:
        return 10.0
    if rate_hz <= 50:
        return 21.0
    if rate_hz <= 100:
        return 21.0
    return 44.0


def _biquad_lowpass_impulse(fc, fs):
    """Impulse response of a 2nd-order Butterworth low-pass (bilinear transform),
    truncated where it has died out, normalised to unit DC gain."""
    w0 = 2 * math.pi * fc / fs
    alpha = math.sin(w0) / (2 * math.sqrt(0.5))
    cw = math.cos(w0)
    b0, b1, b2 = (1 - cw) / 2, 1 - cw, (1 - cw) / 2
    a0, a1, a2 = 1 + alpha, -2 * cw, 1 - alpha
    b0, b1, b2, a1, a2 = b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0
    n = int(math.ceil(3.0 * fs / fc)) + 8
    h = np.zeros(n)
    x1 = x2 = y1 = y2 = 0.0
    for i in range(n):
        x0 = 1.0 if i == 0 else 0.0
        y0 = b0 * x0 + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
        h[i] = y0
        x2, x1, y2, y1 = x1, x0, y1, y0
    return h / h.sum()


def lowpass(x, fc, fs=FS):
    """Causal low-pass of each column of x (N, k), starting in steady state."""
    h = _biquad_lowpass_impulse(fc, fs)
    n = len(x)
    L = len(h)
    out = np.empty_like(x)
    for j in range(x.shape[1]):
        col = np.concatenate([np.full(L, x[0, j]), x[:, j]])
        out[:, j] = np.convolve(col, h)[L:L + n]
    return out


def lowpass_at(x, fc, idx, fs=FS):
    """The causal low-pass of each column of x (N, k), evaluated only at the
    sample indices ``idx`` (what a chip's rate divider reads out)."""
    if len(idx) > len(x) // 5:
        return lowpass(x, fc, fs)[idx]
    h = _biquad_lowpass_impulse(fc, fs)
    L = len(h)
    pad = np.concatenate([np.repeat(x[:1], L - 1, axis=0), x])
    win = np.lib.stride_tricks.sliding_window_view(pad, L, axis=0)  # (N, k, L)
    return win[idx] @ h[::-1]


def _misc_matrix(rng, scale, cross):
    """I + diag(scale errors) + off-diagonal cross-axis terms."""
    M = np.eye(3) + np.diag(rng.uniform(-scale, scale, 3))
    off = rng.uniform(-cross, cross, (3, 3))
    np.fill_diagonal(off, 0.0)
    return M + off


def sample_errors(rng, kind="realistic", imu="mpu6050", overrides=None):
    """Draw one sensor's error parameters over their whole ranges
    (docs/DOMAIN.md §7(b), §3.2). kind: 'ideal', 'realistic' or 'uncalibrated' (every axis's offset
    10-20 deg/s from zero). ``overrides``: ``gyro_bias`` (deg/s: each axis
    +-that), ``noise_scale`` (x the drawn white-noise densities)."""
    ov = overrides or {}
    e = {"kind": kind, "imu": imu}
    if kind == "ideal":
        return e
    mpu = imu == "mpu6050"
    if mpu or kind == "uncalibrated":
        # MPU-6050 initial zero-rate offset: +-20 deg/s per axis
        b0 = rng.uniform(-20, 20, 3)
        if kind == "uncalibrated":
            b0 = np.sign(b0 + 1e-9) * rng.uniform(10, 20, 3)
    else:
        # ICM-42688 / LSM6DSOX: +-0.5 / +-1 deg/s typical
        b0 = rng.uniform(-1.0, 1.0, 3)
    signs = rng.choice([-1.0, 1.0], 3)
    if "gyro_bias" in ov:
        b0 = signs * float(ov["gyro_bias"])
    e["gyro_bias0"] = b0
    # warm-up after strapping onto skin (+10 C): 0.1-1 deg/s per axis, settled
    # (95 %) after 5-15 min, i.e. a time constant of 100-300 s
    e["gyro_warmup"] = rng.uniform(0.1, 1.0, 3) * rng.choice([-1, 1], 3)
    e["gyro_warmup_tau"] = float(rng.uniform(100, 300))
    # bias random walk: 0.0005 deg/s per sqrt(s) (0.009 deg/s over 5 min; above
    # the 0.0012 deg/s bias instability of the Allan figures, on purpose)
    e["gyro_rw"] = 0.0005
    e["gyro_steps"] = int(rng.integers(0, 4))     # 1-LSB thermal bias jumps
    # white noise: 0.005 deg/s/sqrt(Hz) (MPU-6050) up to 0.015 (cheap parts);
    # newer parts 0.0028-0.007
    gn = float(rng.uniform(0.005, 0.015)) if mpu else float(rng.uniform(0.0028, 0.007))
    an = 400e-6 if mpu else float(rng.uniform(75e-6, 150e-6))
    k = float(ov.get("noise_scale", 1.0))
    e["gyro_noise"] = gn * k
    e["accel_noise"] = an * k  # g / sqrt(Hz)
    e["gyro_M"] = _misc_matrix(rng, 0.03, 0.02)
    e["gyro_gsens"] = rng.uniform(-0.1, 0.1, (3, 3))  # deg/s per g
    e["accel_offset"] = np.array([rng.uniform(-0.05, 0.05), rng.uniform(-0.05, 0.05), rng.uniform(-0.08, 0.08)])
    # zero-g drift +-35 / 60 mg over 70 C: the same +10 C warm-up moves it 1/7 of that
    e["accel_warmup"] = rng.uniform(-1, 1, 3) * np.array([0.035, 0.035, 0.06]) * (10.0 / 70.0)
    e["accel_M"] = _misc_matrix(rng, 0.03, 0.02)
    e["accel_nonlin"] = rng.uniform(-0.005, 0.005, 3)  # fraction of full scale at full scale
    return e


def apply_errors(gyro, accel, e, rng, fs=FS, accel_range=4):
    """Add the sensor errors to ideal signals at the internal rate (returns copies)."""
    if e["kind"] == "ideal":
        return gyro.copy(), accel.copy()
    n = len(gyro)
    t = np.arange(n) / fs
    g = gyro @ np.ascontiguousarray(e["gyro_M"].T)
    warm = (1 - np.exp(-t / e["gyro_warmup_tau"]))[:, None]
    bias = e["gyro_bias0"][None, :] + e["gyro_warmup"][None, :] * warm
    bias = bias + np.cumsum(rng.normal(0, e["gyro_rw"] / math.sqrt(fs), (n, 3)), axis=0)
    for _ in range(e["gyro_steps"]):
        i = int(rng.integers(n // 4, max(n // 4 + 1, n)))
        bias[i:, int(rng.integers(0, 3))] += rng.choice([-1, 1]) / IMU_LSB.get(e["imu"], IMU_LSB["mpu6050"])[0]
    g = g + bias + accel @ np.ascontiguousarray(e["gyro_gsens"].T)
    g = g + rng.normal(0, e["gyro_noise"] * math.sqrt(fs / 2), (n, 3))
    a = accel @ np.ascontiguousarray(e["accel_M"].T) + e["accel_offset"][None, :]
    a = a + e.get("accel_warmup", np.zeros(3))[None, :] * warm
    a = a + e["accel_nonlin"][None, :] * a * np.abs(a) / float(accel_range)
    a = a + rng.normal(0, e["accel_noise"] * math.sqrt(fs / 2), (n, 3))
    return g, a


def quantise(x, lsb_per_unit):
    """Round to the ADC step and saturate at the 16-bit range."""
    return np.clip(np.round(x * lsb_per_unit), -32768, 32767) / lsb_per_unit


def sample_output(gyro, accel, rate_hz, rng, *, dlpf_hz=None, quant=True, jitter_ms=0,
                  drop_frac=0.0, protect_ms=0, lsb=(GYRO_LSB, ACCEL_LSB), fs=FS):
    """Low-pass, sample at the output rate, quantise (and saturate at the
    full-scale range the LSB sizes give), timestamp and drop samples (bursts of
    1-10 anywhere after ``protect_ms``; the corpus protects nothing).

    Returns (t_ms int array, internal index array, gyro (M,3), accel (M,3)).
    """
    step = check_rate(rate_hz, fs)
    fc = dlpf_hz or dlpf_for_rate(rate_hz)
    idx = np.arange(0, len(gyro), step)
    g = lowpass_at(gyro, fc, idx, fs)
    a = lowpass_at(accel, fc, idx, fs)
    if quant:
        g = quantise(g, lsb[0])
        a = quantise(a, lsb[1])
    t = idx * (1000.0 / fs)
    if jitter_ms:
        t = t + rng.uniform(-jitter_ms, jitter_ms, len(t))
    t_ms = np.maximum(np.round(t), 0).astype(np.int64)
    t_ms = np.maximum.accumulate(t_ms)
    keep = np.ones(len(idx), dtype=bool)
    if drop_frac > 0:
        n_drop = int(drop_frac * len(idx))
        first = int(protect_ms * rate_hz / 1000) + 1
        while n_drop > 0 and first < len(idx) - 12:
            burst = int(min(n_drop, rng.integers(1, 11)))
            i = int(rng.integers(first, len(idx) - 11))
            keep[i:i + burst] = False
            n_drop -= burst
        keep[-1] = True
    return t_ms[keep], idx[keep], g[keep], a[keep]
