"""Replay a recording into a fresh Envoy: xdsspy serves one Envoy's recorded pushes as its control plane."""
