"""xdsspy: a recording man-in-the-middle for Envoy's xDS conversations."""

__version__ = "0.1.0"
