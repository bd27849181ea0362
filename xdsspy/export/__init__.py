"""Exporters: recordings turned into formats other tools read."""
