"""Real processes around xdsspy, for demos and end-to-end tests: Envoy, xdsspy itself, and checks on both."""
