"""``stove serve``: the daemon that owns the relays and the timers."""
