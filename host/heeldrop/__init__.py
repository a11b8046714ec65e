"""heeldrop host tools: replay, reports and a virtual device for the heel drop coach."""
__version__ = "0.1.0"
