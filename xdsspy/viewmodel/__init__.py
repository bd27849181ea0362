"""What front ends show, free of rich and textual: rows, filters, Envoy status, details."""
