"""memsim.calibration — fit a preset + runtime to the user's own measurements.

Above the engine (it simulates every measurement): ``read_measurements(csv)``,
``calibrate(measurements, hardware, ...)``, ``write_calibrated(result, preset, out)``. The
fitting mathematics is pure and lives in ``memsim.runtime.calibrate``; docs/model.md
"Calibration" states the method and its limits.
"""

from memsim.calibration.measurements import Measurement, read_measurements
from memsim.calibration.runner import Calibrated, calibrate, calibrated_yaml, write_calibrated

__all__ = ["Measurement", "read_measurements", "Calibrated", "calibrate", "calibrated_yaml",
           "write_calibrated"]
