"""Snapshots of one Envoy's dynamic configuration, from recordings and config dumps, and diffs of them."""
