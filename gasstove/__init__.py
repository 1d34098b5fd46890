"""gasstove: timed, remote and voice shut-off for a gas stove's flame-failure loop."""

__version__ = "0.1.0"
