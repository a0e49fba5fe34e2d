"""Dramatiq: the broker is chosen by `bootstrap` before any actor module is imported."""
