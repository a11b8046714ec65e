# IMU drivers: MPU-6050/6500/9250, LSM6DS3/LSM6DS3TR-C/LSM6DSOX, QMI8658.
# probe(bus, clock_us=None) finds the chip and returns its driver; the chip
# modules are imported on demand, so a board carries only what it uses.
from drivers.imu import IMU, IMUError, probe  # noqa: F401
