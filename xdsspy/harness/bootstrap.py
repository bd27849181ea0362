"""Envoy bootstrap for an ADS client in tests: the product's (envoy_bootstrap) tuned for the harness.

Node, admin, and one static `xds-grpc` cluster pointing at xDS, as `xdsspy
bootstrap` prints it, with an admin port Envoy picks (0). Written as JSON,
which Envoy reads by the file extension: every string is quoted, so a node
id like `n` or `on` cannot turn into a YAML boolean. The xDS cluster
reconnects quickly (retry_policy on the EnvoyGrpc service), so a restarted
control plane is picked up in about a second instead of Envoy's default of
up to 30.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any

from xdsspy import addresses
from xdsspy import envoy_bootstrap

XDS_CLUSTER = envoy_bootstrap.ADS_CLUSTER


class ApiType(enum.StrEnum):
    """ads_config.api_type: which ADS method Envoy calls."""

    SOTW = "GRPC"  # StreamAggregatedResources
    DELTA = "DELTA_GRPC"  # DeltaAggregatedResources


@dataclasses.dataclass(frozen=True, slots=True)
class BootstrapOptions:
    xds: addresses.Address  # where Envoy connects for ADS: xdsspy or a control plane; TCP or unix
    node_id: str = envoy_bootstrap.DEFAULT_NODE_ID
    node_cluster: str = envoy_bootstrap.DEFAULT_NODE_CLUSTER
    api_type: ApiType = ApiType.SOTW
    admin_host: str = "127.0.0.1"
    admin_port: int = 0  # 0: Envoy picks a free port and writes it to --admin-address-path
    set_node_on_first_message_only: bool = False
    retry_base_interval_s: float = 0.25
    retry_max_interval_s: float = 1.0
    initial_fetch_timeout_s: float | None = None  # None: Envoy's default (15 s)


def build(options: BootstrapOptions) -> dict[str, Any]:
    """The bootstrap as a JSON-ready dict: envoy_bootstrap.build's, plus the harness's settings."""
    config = envoy_bootstrap.build(
        envoy_bootstrap.Options(
            xds=options.xds,
            node_id=options.node_id,
            node_cluster=options.node_cluster,
            api=envoy_bootstrap.Api(options.api_type.value),
            admin_host=options.admin_host,
            admin_port=options.admin_port,
        )
    )
    dynamic = config["dynamic_resources"]
    ads = dynamic["ads_config"]
    ads["set_node_on_first_message_only"] = options.set_node_on_first_message_only
    ads["grpc_services"][0]["envoy_grpc"]["retry_policy"] = {
        "retry_back_off": {
            "base_interval": envoy_bootstrap.duration(options.retry_base_interval_s),
            "max_interval": envoy_bootstrap.duration(options.retry_max_interval_s),
        }
    }
    if options.initial_fetch_timeout_s is not None:
        timeout = envoy_bootstrap.duration(options.initial_fetch_timeout_s)
        for source in ("cds_config", "lds_config"):
            dynamic[source]["initial_fetch_timeout"] = timeout
    return config


def dumps(options: BootstrapOptions) -> str:
    """The bootstrap as JSON text, ready to be written to a file ending in .json."""
    return json.dumps(build(options), indent=2)
