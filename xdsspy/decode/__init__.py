"""Understanding recorded bytes: xDS envelopes, then resources, each only when asked for.

Two layers, so that cheap work stays cheap:

* `discovery.decode(method, direction, raw)` (gRPC) and `rest.decode_json(...)`
  (REST bodies) give an `envelope.Envelope`: kind, node, type URL, versions,
  nonces, names, subscriptions, errors, and one `ResourceEntry` per resource
  holding its raw bytes, its name when cheap, and a digest. ~25 ms for a 10k
  cluster push. `nodes.NodeMemory` fills in the node Envoy sends only once.
* `resources.decode_entry(entry)` / `decode_entries(...)` turn resources into
  the JSON Envoy's /config_dump prints (`todict`), decoding every nested Any,
  v2 types as v3 (`versions`), and anything without a schema schema-less
  (`wire`), with `notes` saying which parts were not fully typed.

Types come from a `schemas.Registry` (Envoy's API from xds-protos plus
protosets or .proto directories the user adds). Nothing here imports grpc, rich
or textual, and nothing raises on bad bytes: problems are data.
"""
