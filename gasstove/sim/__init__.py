"""Simulated hardware: a physical burner model and relays that speak real protocols.

A product feature (``stove sim``, ``stove demo``), not test scaffolding: the
tests drive it over real sockets.
"""
