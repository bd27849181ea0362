"""Picking dynamic resources out of a /config_dump by name."""

from __future__ import annotations

from typing import Any

from xdsspy.harness import config_dump

A = "type.googleapis.com/envoy.admin.v3."

DUMP: dict[str, Any] = {
    "configs": [
        {"@type": A + "BootstrapConfigDump", "bootstrap": {}},
        {
            "@type": A + "ClustersConfigDump",
            "version_info": "2",
            "dynamic_active_clusters": [
                {"version_info": "2", "cluster": {"name": "a", "connect_timeout": "1s"}}
            ],
            "dynamic_warming_clusters": [{"version_info": "3", "cluster": {"name": "w"}}],
        },
        {
            "@type": A + "ListenersConfigDump",
            "dynamic_listeners": [
                {"name": "l", "active_state": {"version_info": "1", "listener": {"name": "l"}}},
                {"name": "warm", "warming_state": {"listener": {"name": "warm"}}},
            ],
        },
        {
            "@type": A + "RoutesConfigDump",
            "dynamic_route_configs": [{"version_info": "1", "route_config": {"name": "r"}}],
        },
        {
            "@type": A + "EndpointsConfigDump",
            "dynamic_endpoint_configs": [
                {
                    "endpoint_config": {
                        "cluster_name": "a",
                        "endpoints": [
                            {
                                "lb_endpoints": [
                                    {
                                        "endpoint": {
                                            "address": {"socket_address": {"address": "h", "port_value": 1}}
                                        }
                                    }
                                ]
                            }
                        ],
                    }
                }
            ],
        },
    ]
}


def test_each_type_by_name() -> None:
    assert config_dump.clusters(DUMP)["a"]["cluster"]["connect_timeout"] == "1s"
    assert list(config_dump.clusters(DUMP, warming=True)) == ["w"]
    assert list(config_dump.listeners(DUMP)) == ["l"]
    assert list(config_dump.listeners(DUMP, state="warming_state")) == ["warm"]
    assert config_dump.route_configs(DUMP)["r"]["version_info"] == "1"
    endpoints = config_dump.endpoint_configs(DUMP)["a"]["endpoint_config"]
    assert config_dump.endpoint_addresses(endpoints) == [("h", 1)]
    assert config_dump.version_info(DUMP, "ClustersConfigDump") == "2"


def test_missing_sections_are_empty() -> None:
    assert config_dump.clusters({}) == {}
    assert config_dump.version_info({"configs": []}, "ListenersConfigDump") == ""
