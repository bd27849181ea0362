"""Envoy bootstrap for an ADS client: node, admin, and one static `xds-grpc` cluster pointing at xDS.

Written as JSON, which Envoy reads by the file extension: every string is
quoted, so a node id like `n` or `on` cannot turn into a YAML boolean. The
xDS cluster speaks HTTP/2 and reconnects quickly (retry_policy on the
EnvoyGrpc service), so a restarted control plane is picked up in about a
second instead of Envoy's default of up to 30.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any

from xdsspy import addresses

XDS_CLUSTER = "xds-grpc"

_HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


class ApiType(enum.StrEnum):
    """ads_config.api_type: which ADS method Envoy calls."""

    SOTW = "GRPC"  # StreamAggregatedResources
    DELTA = "DELTA_GRPC"  # DeltaAggregatedResources


@dataclasses.dataclass(frozen=True, slots=True)
class BootstrapOptions:
    xds: addresses.Address  # where Envoy connects for ADS: xdsspy or a control plane; TCP or unix
    node_id: str = "xdsspy-envoy"
    node_cluster: str = "xdsspy"
    api_type: ApiType = ApiType.SOTW
    admin_host: str = "127.0.0.1"
    admin_port: int = 0  # 0: Envoy picks a free port and writes it to --admin-address-path
    set_node_on_first_message_only: bool = False
    retry_base_interval_s: float = 0.25
    retry_max_interval_s: float = 1.0
    initial_fetch_timeout_s: float | None = None  # None: Envoy's default (15 s)


def _duration(seconds: float) -> str:
    return f"{seconds:.3f}s"


def _config_source(options: BootstrapOptions) -> dict[str, Any]:
    source: dict[str, Any] = {"ads": {}, "resource_api_version": "V3"}
    if options.initial_fetch_timeout_s is not None:
        source["initial_fetch_timeout"] = _duration(options.initial_fetch_timeout_s)
    return source


def _xds_address(address: addresses.Address) -> dict[str, Any]:
    if address.is_unix:
        return {"pipe": {"path": address.unix_path}}
    return {"socket_address": {"address": address.host, "port_value": address.port}}


def build(options: BootstrapOptions) -> dict[str, Any]:
    """The bootstrap as a JSON-ready dict (Envoy's v3 Bootstrap in proto3 JSON form)."""
    if options.xds.port == 0 and not options.xds.is_unix:
        raise ValueError(f"the xDS address {options.xds} needs a port")
    return {
        "node": {"id": options.node_id, "cluster": options.node_cluster},
        "admin": {
            "address": {"socket_address": {"address": options.admin_host, "port_value": options.admin_port}}
        },
        "dynamic_resources": {
            "ads_config": {
                "api_type": options.api_type.value,
                "transport_api_version": "V3",
                "set_node_on_first_message_only": options.set_node_on_first_message_only,
                "grpc_services": [
                    {
                        "envoy_grpc": {
                            "cluster_name": XDS_CLUSTER,
                            "retry_policy": {
                                "retry_back_off": {
                                    "base_interval": _duration(options.retry_base_interval_s),
                                    "max_interval": _duration(options.retry_max_interval_s),
                                }
                            },
                        }
                    }
                ],
            },
            "cds_config": _config_source(options),
            "lds_config": _config_source(options),
        },
        "static_resources": {
            "clusters": [
                {
                    "name": XDS_CLUSTER,
                    "type": "STATIC",
                    "connect_timeout": "1s",
                    "load_assignment": {
                        "cluster_name": XDS_CLUSTER,
                        "endpoints": [
                            {"lb_endpoints": [{"endpoint": {"address": _xds_address(options.xds)}}]}
                        ],
                    },
                    "typed_extension_protocol_options": {
                        _HTTP_OPTIONS: {
                            "@type": f"type.googleapis.com/{_HTTP_OPTIONS}",
                            "explicit_http_config": {"http2_protocol_options": {}},
                        }
                    },
                }
            ]
        },
    }


def dumps(options: BootstrapOptions) -> str:
    """The bootstrap as JSON text, ready to be written to a file ending in .json."""
    return json.dumps(build(options), indent=2)
