"""A minimal ADS client on plain grpcio: drive a control plane (or xdsspy in front of one) without Envoy.

It sends whatever requests it is given, exactly, and hands back parsed
responses in order, so tests can play protocol situations Envoy would not
produce on demand (stale nonces, odd subscriptions, NACKs of anything).
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import grpc
from envoy.service.discovery.v3 import discovery_pb2

from xdsspy.controlplane import ads

RESPONSE_TIMEOUT_S = 10.0


class StreamEnded(Exception):
    """The stream finished while a response was expected."""


class AdsClient:
    """One ADS stream (SotW or Delta by method): send(), receive(), and see how it ended."""

    def __init__(self, target: str, method: str = ads.SOTW_METHOD, *, timeout_s: float = 120.0) -> None:
        self.method = method
        self._response_type = (
            discovery_pb2.DeltaDiscoveryResponse
            if method == ads.DELTA_METHOD
            else discovery_pb2.DiscoveryResponse
        )
        self._channel = grpc.insecure_channel(target)
        self._requests: queue.Queue[bytes | None] = queue.Queue()
        self._responses: queue.Queue[Any] = queue.Queue()
        self._end: grpc.RpcError | None = None
        self._call = self._channel.stream_stream(method)(iter(self._requests.get, None), timeout=timeout_s)
        self._reader = threading.Thread(target=self._read, name="xdsspy ADS client reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for raw in self._call:
                self._responses.put(self._response_type.FromString(raw))
        except grpc.RpcError as e:
            self._end = e
        self._responses.put(None)

    def send(self, request: Any) -> None:
        """Send a DiscoveryRequest or DeltaDiscoveryRequest message."""
        self._requests.put(request.SerializeToString())

    def send_raw(self, raw: bytes) -> None:
        self._requests.put(raw)

    def receive(self, timeout: float = RESPONSE_TIMEOUT_S) -> Any:
        """The next response, parsed; AssertionError-free so it works outside tests too."""
        try:
            item = self._responses.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no response on {self.method} within {timeout:g} s") from None
        if item is None:
            self._responses.put(None)  # later calls see the end too
            raise StreamEnded(f"{self.method} ended instead of responding: {self._describe_end()}")
        return item

    def done_writing(self) -> None:
        """Half-close: no more requests."""
        self._requests.put(None)

    def wait_end(self, timeout: float = RESPONSE_TIMEOUT_S) -> grpc.RpcError | None:
        """Wait for the stream to end; the error it ended with, or None for status OK."""
        self._reader.join(timeout)
        if self._reader.is_alive():
            raise TimeoutError(f"{self.method} did not end within {timeout:g} s")
        return self._end

    def cancel(self) -> None:
        self._call.cancel()

    def close(self) -> None:
        self._call.cancel()
        self._requests.put(None)
        self._channel.close()

    def __enter__(self) -> AdsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _describe_end(self) -> str:
        if self._end is None:
            return "status OK"
        return f"{self._end.code().name}: {self._end.details()}"
