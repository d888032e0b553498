"""Emulated hardware for tests, the demo and benchmarks: a GSM modem's AT interpreter, the same on a
real pseudo-terminal, its control socket, and the customers' phones of the simulator page."""
