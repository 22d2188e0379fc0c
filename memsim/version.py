"""The package version (foundation: read by the sweep's point ids without importing the API)."""

__version__ = "0.1.0"
