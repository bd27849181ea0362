"""The demo's workload certificate and key: public, made for the demo, and pushed over SDS like Istio's.

They are NOT secrets: they are in xdsspy's source so that the demo needs no
CA. The demo serves them as the SDS secrets `default` (the workload's
certificate and key) and `ROOTCA` (the trust bundle), the names Istio uses,
so that a user sees SDS traffic, and sees xdsspy mask the key in everything
it saves for sharing. Valid from 2026-12-01 for thirty years.
"""

from __future__ import annotations

KEY_PEM = b"""-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgryg4KPU+UQDGSDIs
7IlV0oUHV2SXZXNubyex4f0Gq1ahRANCAAT7BaGFpyNFtaVATraOQxzV7TRgE0yW
TIaTeFW6zhLwwi7DLW871fY3b4A7MMkjJ1PryHJvfT/gQ9oxCAC9GUPj
-----END PRIVATE KEY-----
"""

CERT_PEM = b"""-----BEGIN CERTIFICATE-----
MIIBwjCCAWmgAwIBAgIUKHhWcJPAxzihbsAdCKWGkcEDBpQwCgYIKoZIzj0EAwIw
OzEjMCEGA1UECgwaeGRzc3B5IGRlbW8gKG5vdCBhIHNlY3JldCkxFDASBgNVBAMM
C3hkc3NweSBkZW1vMCAXDTI2MTIwMTAwMDAwMFoYDzIwNTYxMTIzMDAwMDAwWjA7
MSMwIQYDVQQKDBp4ZHNzcHkgZGVtbyAobm90IGEgc2VjcmV0KTEUMBIGA1UEAwwL
eGRzc3B5IGRlbW8wWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAT7BaGFpyNFtaVA
TraOQxzV7TRgE0yWTIaTeFW6zhLwwi7DLW871fY3b4A7MMkjJ1PryHJvfT/gQ9ox
CAC9GUPjo0kwRzA0BgNVHREELTArhilzcGlmZmU6Ly9jbHVzdGVyLmxvY2FsL25z
L2RlZmF1bHQvc2EvZGVtbzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cA
MEQCIAhP+7nJpPVsljZst6DCLdveKkBcXse7Md2RIfwXl9mhAiBINC5eYASb7M5U
9r2auAkuA2eq2kkrZqjOMiwOt5nbUw==
-----END CERTIFICATE-----
"""
