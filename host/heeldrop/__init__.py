"""heeldrop host tools: replay, reports and a virtual device for the heel drop coach."""
# One version for the host tools and the firmware: heelcore.VERSION, which the
# board reports in its HELLO; pyproject.toml reads it too (dynamic version).
from heelcore import VERSION as __version__  # noqa: F401
