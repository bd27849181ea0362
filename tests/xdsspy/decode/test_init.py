"""The decode package stays headless: no grpc, rich or textual, even after decoding (fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

CODE = """
import json, sys
from xdsspy import model
from xdsspy.decode import discovery, envelope, memo, methods, nodes, resources, rest, schemas, todict, tree
from xdsspy.decode import versions, wire
from xdsspy.testing import xds
raw = xds.tcds_response(2).SerializeToString()
env = discovery.decode("/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources",
                       model.Direction.RESPONSE, raw)
resources.decode_entries(env.resources)
resources.decode("type.googleapis.com/envoy.api.v2.Cluster", b"")
print(json.dumps(sorted(sys.modules)))
"""


def test_decoding_loads_no_grpc_rich_or_textual() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], check=True, capture_output=True, text=True).stdout
    loaded = set(json.loads(out))
    bad = sorted(m for m in loaded if m.split(".")[0] in ("grpc", "rich", "textual", "betterproto2"))
    assert bad == []
