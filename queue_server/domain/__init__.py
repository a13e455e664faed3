"""Pure domain logic: no I/O, no clocks, no Redis."""
