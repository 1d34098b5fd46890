"""Adapters: turn domain decisions into bytes on a wire (docs/design.md §3)."""
