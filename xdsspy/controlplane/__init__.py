"""A small, real xDS control plane (ADS, SotW and Delta): the test peer and the demo's built-in server."""
