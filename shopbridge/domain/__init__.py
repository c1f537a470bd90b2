"""Plain records, money and time: no I/O, no framework."""
