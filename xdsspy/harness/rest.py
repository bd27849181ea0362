"""An Envoy that polls CDS and LDS over REST (api_type REST) instead of ADS: its bootstrap and its start.

bootstrap.build() writes an ADS client; REST needs a different
dynamic_resources (an api_config_source per type, naming a static cluster)
and, for h2c, HTTP/2 protocol options on that cluster. RestEnvoy is the
harness's Envoy started with that bootstrap; everything else (admin, config
dumps, stats, stopping by PID) is the harness's own.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from xdsspy import addresses
from xdsspy.harness import bootstrap as bootstrap_mod
from xdsspy.harness import envoy as envoy_mod

REST_CLUSTER = "xds-rest"

_HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


@dataclasses.dataclass(frozen=True, slots=True)
class RestBootstrapOptions:
    server: addresses.Address  # where Envoy polls: xdsspy's REST listener or a REST control plane
    node_id: str = "xdsspy-rest-envoy"
    node_cluster: str = "xdsspy"
    http2: bool = False  # h2c (HTTP/2 protocol options on the xDS cluster) instead of HTTP/1.1
    refresh_delay_s: float = 1.0
    request_timeout_s: float = 1.0
    admin_host: str = "127.0.0.1"


def _duration(seconds: float) -> str:
    return f"{seconds:.3f}s"


def _config_source(options: RestBootstrapOptions) -> dict[str, Any]:
    return {
        "resource_api_version": "V3",
        "api_config_source": {
            "api_type": "REST",
            "transport_api_version": "V3",
            "cluster_names": [REST_CLUSTER],
            "refresh_delay": _duration(options.refresh_delay_s),
            "request_timeout": _duration(options.request_timeout_s),
        },
    }


def build(options: RestBootstrapOptions) -> dict[str, Any]:
    """The bootstrap as a JSON-ready dict: CDS and LDS polled over REST from one static cluster."""
    server = options.server
    if server.is_unix:
        address: dict[str, Any] = {"pipe": {"path": server.unix_path}}
    else:
        address = {"socket_address": {"address": server.host, "port_value": server.port}}
    cluster: dict[str, Any] = {
        "name": REST_CLUSTER,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": REST_CLUSTER,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": address}}]}],
        },
    }
    if options.http2:
        cluster["typed_extension_protocol_options"] = {
            _HTTP_OPTIONS: {
                "@type": f"type.googleapis.com/{_HTTP_OPTIONS}",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        }
    return {
        "node": {"id": options.node_id, "cluster": options.node_cluster},
        "admin": {"address": {"socket_address": {"address": options.admin_host, "port_value": 0}}},
        "dynamic_resources": {"cds_config": _config_source(options), "lds_config": _config_source(options)},
        "static_resources": {"clusters": [cluster]},
    }


class RestEnvoy(envoy_mod.Envoy):
    """The harness's Envoy, started with a REST bootstrap (bootstrap.build() only makes ADS ones)."""

    def __init__(self, options: RestBootstrapOptions, workdir: str | os.PathLike[str], **kwargs: Any) -> None:
        # The base class keeps BootstrapOptions for its admin address; xds is unused by a REST Envoy.
        super().__init__(
            bootstrap_mod.BootstrapOptions(xds=options.server, admin_host=options.admin_host),
            workdir,
            **kwargs,
        )
        self.rest_options = options

    def bootstrap_text(self) -> str:
        return json.dumps(build(self.rest_options), indent=2)
