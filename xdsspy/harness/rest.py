"""An Envoy that polls CDS and LDS over REST (api_type REST) instead of ADS: its bootstrap and its start.

bootstrap.build() writes an ADS client; REST needs a different
dynamic_resources (an api_config_source per type, naming a static cluster),
which envoy_bootstrap builds as `xdsspy bootstrap --api REST` prints it. The
harness adds an admin port Envoy picks and, for h2c, HTTP/2 protocol options
on that cluster. RestEnvoy is the harness's Envoy started with that
bootstrap; everything else (admin, config dumps, stats, stopping by PID) is
the harness's own.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from xdsspy import addresses
from xdsspy import envoy_bootstrap
from xdsspy.harness import bootstrap as bootstrap_mod
from xdsspy.harness import envoy as envoy_mod

REST_CLUSTER = envoy_bootstrap.REST_CLUSTER


@dataclasses.dataclass(frozen=True, slots=True)
class RestBootstrapOptions:
    server: addresses.Address  # where Envoy polls: xdsspy's REST listener or a REST control plane
    node_id: str = "xdsspy-rest-envoy"
    node_cluster: str = "xdsspy"
    http2: bool = False  # h2c (HTTP/2 protocol options on the xDS cluster) instead of HTTP/1.1
    refresh_delay_s: float = 1.0
    request_timeout_s: float = 1.0
    admin_host: str = "127.0.0.1"


def build(options: RestBootstrapOptions) -> dict[str, Any]:
    """The bootstrap as a JSON-ready dict: CDS and LDS polled over REST from one static cluster."""
    config = envoy_bootstrap.build(
        envoy_bootstrap.Options(
            xds=options.server,
            node_id=options.node_id,
            node_cluster=options.node_cluster,
            api=envoy_bootstrap.Api.REST,
            admin_host=options.admin_host,
            admin_port=0,
            refresh_delay_s=options.refresh_delay_s,
            request_timeout_s=options.request_timeout_s,
        )
    )
    if options.http2:
        (cluster,) = config["static_resources"]["clusters"]
        cluster["typed_extension_protocol_options"] = envoy_bootstrap.http2_protocol_options()
    return config


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
