"""Home Assistant tests of the gasstove integration (run by scripts/test-ha)."""
