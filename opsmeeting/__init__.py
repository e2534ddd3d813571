"""opsmeeting: the Ops Meeting pre-read and projected page."""

__version__ = "0.1.0"
