"""Implementations of the domain's ports, and the one composition root (`bootstrap`) that wires them."""
