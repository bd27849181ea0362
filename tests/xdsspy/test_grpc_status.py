"""gRPC status names without grpcio."""

from __future__ import annotations

import grpc

from xdsspy import grpc_status


def test_names_match_grpcio_for_every_code() -> None:
    for code in grpc.StatusCode:
        assert grpc_status.name(code.value[0]) == code.name


def test_unknown_code_is_still_printable() -> None:
    assert grpc_status.name(99) == "CODE_99"
