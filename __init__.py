"""OpsLens: short, faithful summaries and stance labels for briefing articles."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("opslens")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
