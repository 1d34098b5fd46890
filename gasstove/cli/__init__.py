"""The ``stove`` command line."""


def version_line() -> str:
    """What ``stove --version`` prints: the one version (gasstove/__init__.py), which
    the fast path (fast.py) and the full command line (main.py) both answer."""
    from .. import __version__

    return f"stove (gasstove) {__version__}"
