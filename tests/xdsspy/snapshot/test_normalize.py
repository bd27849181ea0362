"""Normalising bodies: protobuf's own spelling of a message, and Envoy's endpoint defaults removed."""

from __future__ import annotations

from xdsspy.snapshot import model
from xdsspy.snapshot import normalize

CLUSTER_V2 = "type.googleapis.com/envoy.api.v2.Cluster"


def test_camel_case_and_durations_are_spelled_as_proto_field_names() -> None:
    body = {"@type": model.CLUSTER, "name": "a", "connectTimeout": "1.000s", "lbPolicy": "ROUND_ROBIN"}
    assert normalize.canonical(body) == {"@type": model.CLUSTER, "name": "a", "connect_timeout": "1s"}


def test_a_v2_body_stays_v2_with_its_v2_only_fields() -> None:
    body = {
        "@type": CLUSTER_V2,
        "name": "a",
        "hosts": [{"socketAddress": {"address": "1.2.3.4", "portValue": 80}}],
    }
    out = normalize.canonical(body)
    assert out["@type"] == CLUSTER_V2 and out["hosts"][0]["socket_address"]["port_value"] == 80


def test_an_unknown_nested_type_is_kept_as_it_was_and_the_rest_is_canonical() -> None:
    unknown = {"@type": "type.googleapis.com/istio.Unknown", "someField": 1}
    body = {
        "@type": model.LISTENER,
        "name": "l",
        "listenerFilters": [{"name": "f", "typedConfig": unknown}],
    }
    out = normalize.canonical(body)
    assert out["listener_filters"] == [{"name": "f", "typed_config": unknown}]


def test_what_does_not_parse_is_left_alone() -> None:
    for body in ({"@type": model.CLUSTER, "noSuchField": 1}, {"name": "no type"}, [1], "text"):
        assert normalize.canonical(body) == body


def test_envoys_endpoint_defaults_are_filled_in_and_nothing_else() -> None:
    recorded = {
        "cluster_name": "x",
        "endpoints": [{"priority": 0, "lb_endpoints": [{"endpoint": {"address": {}}}]}],
    }
    assert normalize.endpoint_defaults(recorded) == {
        "cluster_name": "x",
        "endpoints": [
            {
                "locality": {},
                "load_balancing_weight": 0,
                "lb_endpoints": [
                    {
                        "endpoint": {"address": {}, "health_check_config": {}},
                        "health_status": "HEALTHY",
                        "load_balancing_weight": 1,
                    }
                ],
            }
        ],
        "policy": {"overprovisioning_factor": 140},
    }
    assert recorded["endpoints"][0]["priority"] == 0  # a copy was changed, not the input
    draining = {"endpoints": [{"lb_endpoints": [{"health_status": "DRAINING", "load_balancing_weight": 2}]}]}
    lb = normalize.endpoint_defaults(draining)["endpoints"][0]["lb_endpoints"][0]
    assert (lb["health_status"], lb["load_balancing_weight"]) == ("DRAINING", 2)


def test_jsonpb_is_recognised_by_its_top_level_names() -> None:
    assert normalize.looks_jsonpb({"@type": "x", "connectTimeout": "1s"})
    assert not normalize.looks_jsonpb({"@type": "x", "connect_timeout": "1s", "name": "a"})
