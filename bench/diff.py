"""Diff speed: two 50k-resource snapshots with 1% changed, xdsspy side by side with deepdiff and a text diff.

Run: python bench/diff.py [--resources N] [--changed-percent P] [--timeout S]
(deepdiff comes with `pip install -e '.[bench]'`.)

Writes two Envoy /config_dump files of N resources (half clusters shaped
like Istio's outbound clusters, half their ClusterLoadAssignments, three
endpoints each); B changes P% of them (a circuit-breaker limit, an endpoint's
weight). Each contender runs in a child process of its own, so its peak
memory is its own, on the same two files:
- xdsspy: `compare.compare` of the two loaded snapshots, masking the
  resources that changed (what `xdsspy diff` does between loading and printing);
- deepdiff.DeepDiff of the two documents;
- a sorted-JSON text diff: json.dumps(sort_keys, indent=1) of each, then
  difflib.unified_diff of the lines.
"diff s" is each one's diff alone, timed inside the child after the JSON is
read (reading is the same json.loads for all three); wall, CPU and peak RSS
are the child's whole run. Then `xdsspy diff A B --format json`, the whole
command, for orientation: reading 2 × 60 MB of JSON dominates it.
A contender past --timeout is stopped and shown as such.
Target (issue 12): xdsspy's diff <= 1 s and <= 1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]
CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
CLA = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"


def cluster(i: int) -> dict[str, Any]:
    name = f"outbound|{9000 + i % 1000}||svc-{i}.ns-{i % 50}.svc.cluster.local"
    return {
        "@type": CLUSTER,
        "name": name,
        "type": "EDS",
        "eds_cluster_config": {
            "eds_config": {"ads": {}, "initial_fetch_timeout": "0s", "resource_api_version": "V3"}
        },
        "connect_timeout": "10s",
        "lb_policy": "LEAST_REQUEST",
        "circuit_breakers": {
            "thresholds": [
                {
                    "max_connections": 4294967295,
                    "max_pending_requests": 4294967295,
                    "max_requests": 1024,
                    "max_retries": 4294967295,
                    "track_remaining": True,
                }
            ]
        },
        "metadata": {
            "filter_metadata": {
                "istio": {
                    "services": [
                        {"host": name.split("||")[1], "name": f"svc-{i}", "namespace": f"ns-{i % 50}"}
                    ]
                }
            }
        },
        "transport_socket_matches": [
            {
                "name": "tlsMode-istio",
                "match": {"tlsMode": "istio"},
                "transport_socket": {
                    "name": "envoy.transport_sockets.tls",
                    "typed_config": {
                        "@type": TLS,
                        "common_tls_context": {
                            "tls_params": {
                                "tls_minimum_protocol_version": "TLSv1_2",
                                "tls_maximum_protocol_version": "TLSv1_3",
                            },
                            "alpn_protocols": ["istio-peer-exchange", "istio"],
                            "tls_certificate_sds_secret_configs": [
                                {
                                    "name": "default",
                                    "sds_config": {
                                        "api_config_source": {
                                            "api_type": "GRPC",
                                            "grpc_services": [{"envoy_grpc": {"cluster_name": "sds-grpc"}}],
                                            "set_node_on_first_message_only": True,
                                            "transport_api_version": "V3",
                                        },
                                        "resource_api_version": "V3",
                                    },
                                }
                            ],
                        },
                        "sni": f"outbound_.9080_._.svc-{i}.ns-{i % 50}.svc.cluster.local",
                    },
                },
            },
            {
                "name": "tlsMode-disabled",
                "match": {},
                "transport_socket": {"name": "envoy.transport_sockets.raw_buffer"},
            },
        ],
    }


def assignment(i: int) -> dict[str, Any]:
    return {
        "@type": CLA,
        "cluster_name": cluster(i)["name"],
        "endpoints": [
            {
                "locality": {"region": "r1", "zone": f"z{i % 3}"},
                "lb_endpoints": [
                    {
                        "endpoint": {
                            "address": {
                                "socket_address": {
                                    "address": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
                                    "port_value": 8080 + k,
                                }
                            },
                            "health_check_config": {},
                        },
                        "health_status": "HEALTHY",
                        "load_balancing_weight": 1,
                    }
                    for k in range(3)
                ],
            }
        ],
        "policy": {"overprovisioning_factor": 140},
    }


def dump(n: int, changed: set[int]) -> dict[str, Any]:
    clusters, cla = [], []
    for i in range(n // 2):
        c, e = cluster(i), assignment(i)
        if i in changed:
            c["circuit_breakers"]["thresholds"][0]["max_requests"] = 2048
            e["endpoints"][0]["lb_endpoints"][1]["load_balancing_weight"] = 5
        clusters.append({"version_info": "v1", "cluster": c, "last_updated": "2026-12-06T00:00:00Z"})
        cla.append({"version_info": "v1", "endpoint_config": e, "last_updated": "2026-12-06T00:00:00Z"})
    return {
        "configs": [
            {
                "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
                "version_info": "v1",
                "dynamic_active_clusters": clusters,
            },
            {
                "@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump",
                "dynamic_endpoint_configs": cla,
            },
        ]
    }


# -- contenders, each run in a child process (--one NAME A B) ---------------------------------------


def run_xdsspy_compare(a: str, b: str) -> str:
    from xdsspy import redact
    from xdsspy.snapshot import compare
    from xdsspy.snapshot import sources

    sa, sb = sources.load(a), sources.load(b)
    compare.compare(sa, sb, types=lambda t: False)  # Envoy's API loads once (configdiff's type URLs), untimed
    start = time.perf_counter()
    c = compare.compare(sa, sb, redactor=redact.Redactor())
    return f"DIFF_S {time.perf_counter() - start:.3f} {len(c.changes)} resources changed"


def run_deepdiff(a: str, b: str) -> str:
    import deepdiff

    da, db = json.loads(pathlib.Path(a).read_text()), json.loads(pathlib.Path(b).read_text())
    start = time.perf_counter()
    found = deepdiff.DeepDiff(da, db)
    return f"DIFF_S {time.perf_counter() - start:.3f} {sum(len(v) for v in found.values())} differences"


def run_text(a: str, b: str) -> str:
    import difflib

    da, db = json.loads(pathlib.Path(a).read_text()), json.loads(pathlib.Path(b).read_text())
    start = time.perf_counter()
    la = json.dumps(da, sort_keys=True, indent=1).splitlines()
    lb = json.dumps(db, sort_keys=True, indent=1).splitlines()
    lines = sum(1 for line in difflib.unified_diff(la, lb, lineterm="") if line[:1] in "+-")
    return f"DIFF_S {time.perf_counter() - start:.3f} {lines} changed lines"


ONE = {"xdsspy-compare": run_xdsspy_compare, "deepdiff": run_deepdiff, "text-diff": run_text}


_WRAPPER = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "sys.stdout.write(p.stdout)\n"
    "sys.stderr.write(p.stderr)\n"
    "print('RUSAGE', p.returncode, u.ru_utime + u.ru_stime, u.ru_maxrss)\n"
)


def measure(argv: list[str], timeout: float) -> tuple[float, float, int, str] | None:
    """(wall s, CPU s, peak RSS bytes, what it said) of one child process, or None past the timeout.

    A small wrapper process runs the contender as its only child, so the rusage it reports (CPU, peak RSS)
    is that contender's alone."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRAPPER, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)  # the wrapper and the contender it started: both ours
        proc.communicate()
        return None
    wall = time.perf_counter() - start
    _, code, cpu, rss = out.strip().splitlines()[-1].split()
    lines = out.strip().splitlines()[:-1]
    said = (lines or [""])[-1][:100] if code in ("0", "1") else f"failed: {err.strip()[-300:]}"
    return wall, float(cpu), int(rss) * 1024, said


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resources", type=int, default=50_000)
    parser.add_argument("--changed-percent", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before a contender is stopped")
    parser.add_argument("--one", nargs=3, metavar=("NAME", "A", "B"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        name, a, b = args.one
        print(ONE[name](a, b))
        return 0
    n = args.resources
    step = max(1, round(100 / args.changed_percent))
    changed = set(range(0, n // 2, step))
    with tempfile.TemporaryDirectory() as tmp:
        a, b = os.path.join(tmp, "a.json"), os.path.join(tmp, "b.json")
        pathlib.Path(a).write_text(json.dumps(dump(n, set())))
        pathlib.Path(b).write_text(json.dumps(dump(n, changed)))
        size = os.path.getsize(a)
        print(
            f"{n} resources per snapshot ({n // 2} clusters, {n // 2} load assignments), "
            f"{2 * len(changed)} changed ({args.changed_percent}%); {size / 1e6:.0f} MB of JSON each"
        )
        xdsspy = [
            sys.executable,
            "-m",
            "xdsspy",
            "diff",
            a,
            b,
            "--format",
            "json",
            "-o",
            os.path.join(tmp, "d.json"),
        ]
        contenders = [
            ("xdsspy", [sys.executable, __file__, "--one", "xdsspy-compare", a, b]),
            ("sorted-JSON text diff", [sys.executable, __file__, "--one", "text-diff", a, b]),
            ("deepdiff", [sys.executable, __file__, "--one", "deepdiff", a, b]),
        ]
        results = {}
        for label, argv in contenders:
            got = measure(argv, args.timeout)
            results[label] = got
            if got is None:
                print(f"{label:30} {'> ' + str(int(args.timeout)):>8}  stopped at the timeout")
                continue
            wall, cpu, rss, said = got
            diff_s, _, rest = said.removeprefix("DIFF_S ").partition(" ")
            base = results["xdsspy"]
            ratio = f"{float(diff_s) / float(base[3].split()[1]):.0f}" if base else ""
            print(
                f"{label:30} {float(diff_s):8.2f} {ratio:>9} {wall:8.2f} {cpu:8.2f} {rss / 1e6:8.0f}  {rest}"
            )
        whole = measure(xdsspy, args.timeout)
        if whole is not None:
            print(
                f"{'xdsspy diff (whole command)':30} {'':>8} {'':>9} "
                f"{whole[0]:8.2f} {whole[1]:8.2f} {whole[2] / 1e6:8.0f}"
                "  both files read, loaded, compared, masked, printed"
            )
        base = results["xdsspy"]
        if base is not None:
            diff_s = float(base[3].split()[1])
            ok = diff_s <= 1.0 and base[2] <= 1e9
            print(
                f"target: the diff <= 1 s and <= 1 GB: {'met' if ok else 'NOT met'} "
                f"({diff_s:.2f} s, peak {base[2] / 1e6:.0f} MB)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
