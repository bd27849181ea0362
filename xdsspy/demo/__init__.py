"""`xdsspy demo`: a built-in control plane, a real Envoy and the UI, on loopback, with no mesh."""
