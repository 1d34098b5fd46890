"""The ``stove`` command line."""
