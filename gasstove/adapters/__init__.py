"""Adapters: turn domain decisions into bytes on a wire (DESIGN.md §3)."""
