"""Pure domain layer: no I/O, imports nothing above it (DESIGN.md §3)."""
