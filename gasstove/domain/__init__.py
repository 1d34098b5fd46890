"""Pure domain layer: no I/O, imports nothing above it (docs/design.md §3)."""
