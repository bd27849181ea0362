"""Envoy sync status in istioctl's words, at any point, for SotW, Delta and REST recordings and by hand."""

from __future__ import annotations

import pathlib

import pytest
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import struct_pb2
from google.rpc import status_pb2

from xdsspy import model
from xdsspy.record import reader
from xdsspy.state import tracker
from xdsspy.testing import factories as f
from xdsspy.viewmodel import envoys

RECORDINGS = pathlib.Path(__file__).resolve().parents[3] / "recordings"
S = envoys.SyncStatus
CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"


class Conversation:
    """One ADS stream of one Envoy, folded as the index folds it."""

    def __init__(self) -> None:
        self.tracker = tracker.Tracker()
        self.status = envoys.EnvoyStatus()
        self.position = 0
        self.seq = 0
        self.event(f.topen(connection=1, stream=1))

    def event(self, event: model.Event) -> int:
        step, _ = self.tracker.apply(event)
        self.status.add(self.position, step, None if isinstance(event, model.MessageSeen) else event)
        self.position += 1
        return self.position - 1

    def request(
        self, type_url: str, *, version: str = "", nonce: str = "", error: str = "", node: bool = False
    ) -> int:
        req = discovery_pb2.DiscoveryRequest(type_url=type_url, version_info=version, response_nonce=nonce)
        if node:
            req.node.id = "sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local"
            req.node.cluster = "reviews.default"
            req.node.user_agent_version = "1.40.0"
            req.node.metadata.CopyFrom(
                struct_pb2.Struct(fields={"ISTIO_VERSION": struct_pb2.Value(string_value="1.28.0")})
            )
        if error:
            req.error_detail.CopyFrom(status_pb2.Status(code=3, message=error))
        return self.event(f.tmessage(req.SerializeToString(), method=f.ADS))

    def push(self, type_url: str, version: str, nonce: str) -> int:
        response = discovery_pb2.DiscoveryResponse(type_url=type_url, version_info=version, nonce=nonce)
        return self.event(f.tmessage(response.SerializeToString(), model.Direction.RESPONSE, method=f.ADS))

    def sync(self, service: str, position: int | None = None) -> envoys.TypeSync:
        (row,) = self.status.at(position)
        found = row.sync(service)
        assert found is not None
        return found


def test_every_istioctl_word_as_a_conversation_goes() -> None:
    c = Conversation()
    asked = c.request(CDS, node=True)
    assert c.sync("CDS").status == S.NOT_SENT
    first = c.push(CDS, "v1", "n1")
    assert c.sync("CDS").status == S.NEVER_ACKED and c.sync("CDS").sent_version == "v1"
    acked = c.request(CDS, version="v1", nonce="n1")
    assert c.sync("CDS").status == S.SYNCED and c.sync("CDS").acked_version == "v1"
    c.push(CDS, "v2", "n2")
    assert c.sync("CDS").status == S.STALE  # sent, not answered yet, something ACKed before
    nacked = c.request(CDS, version="v1", nonce="n2", error="Invalid duration")
    now = c.sync("CDS")
    assert now.status == S.NACKED and now.error == "Invalid duration"
    assert (now.sent_version, now.acked_version) == ("v2", "v1")
    # Any earlier moment is a bisect away.
    assert c.sync("CDS", asked).status == S.NOT_SENT
    assert c.sync("CDS", first).status == S.NEVER_ACKED
    assert c.sync("CDS", acked).status == S.SYNCED
    assert c.sync("CDS", nacked).status == S.NACKED and c.sync("CDS", nacked - 1).status == S.STALE
    (row,) = c.status.at()
    assert row.nacks == 1 and c.status.at(acked)[0].nacks == 0
    identity = row.identity
    assert (identity.cluster, identity.envoy_version, identity.istio_version) == (
        "reviews.default",
        "1.40.0",
        "1.28.0",
    )
    assert row.link is not None and row.link.open and row.link.kind == envoys.StreamKind.SOTW
    assert row.link.peer == "ipv4:127.0.0.1:40000"


def test_a_stale_nonce_changes_nothing_and_types_keep_istioctl_order() -> None:
    c = Conversation()
    c.request(EDS, node=True)
    c.request(CDS)
    c.push(CDS, "1", "a")
    c.push(CDS, "2", "b")
    c.request(CDS, version="1", nonce="a")  # answers an older response: istiod ignores it
    assert c.sync("CDS").status == S.NEVER_ACKED
    (row,) = c.status.at()
    assert [s.service for s in row.types] == ["CDS", "EDS"]
    assert row.others() == ()


def test_a_close_says_how_and_before_its_first_message_an_envoy_is_not_there() -> None:
    c = Conversation()
    assert c.status.at() == []
    c.request(CDS, node=True)
    c.event(f.tclose(code=14))
    (row,) = c.status.at()
    assert row.link is not None and not row.link.open
    assert row.link.close_status.startswith("UNAVAILABLE 'boom' (upstream)")
    assert c.status.at(0) == []  # the open alone: no Envoy known yet


@pytest.mark.parametrize(
    ("name", "kind"),
    [("sotw-nack.xdsspy", envoys.StreamKind.SOTW), ("delta-nack.xdsspy", envoys.StreamKind.DELTA)],
)
def test_real_envoys_end_nacked_on_cds_with_envoy_s_own_words(name: str, kind: envoys.StreamKind) -> None:
    t = tracker.Tracker()
    status = envoys.EnvoyStatus()
    for position, event in enumerate(reader.iter_events(RECORDINGS / name)):
        status.add(position, t.apply(event)[0], None if isinstance(event, model.MessageSeen) else event)
    (row,) = status.at()
    assert row.identity.envoy_version == "1.40.0" and row.link is not None and row.link.kind == kind
    cds = row.sync("CDS")
    assert cds is not None and cds.status == S.NACKED and "Invalid duration" in cds.error
    assert (cds.sent_version, cds.acked_version) == ("3", "2")
    assert all(row.sync(s).status == S.SYNCED for s in ("LDS", "EDS", "RDS"))  # type: ignore[union-attr]
    assert "cancelled" in row.link.close_status


def test_a_rest_poller_stays_one_link_while_it_polls() -> None:
    t = tracker.Tracker()
    status = envoys.EnvoyStatus()
    events = list(reader.iter_events(RECORDINGS / "rest-reject.xdsspy"))
    assert isinstance(events[-1], model.CaptureStopped)
    for position, event in enumerate(events):
        status.add(position, t.apply(event)[0], None if isinstance(event, model.MessageSeen) else event)
    (before_the_end,) = status.at(len(events) - 2)
    link = before_the_end.link
    assert link is not None and link.kind == envoys.StreamKind.REST and link.open
    (row,) = status.at()  # the capture stopped: nobody is connected through it any more
    assert row.link is not None and not row.link.open and row.link.close_status == "capture stopped"
    assert row.nacks == 1
    assert row.sync("LDS").status == S.SYNCED  # type: ignore[union-attr]


def test_service_names_and_versions_of_old_envoys() -> None:
    assert envoys.service_of(CDS) == "CDS" and envoys.service_of(EDS) == "EDS"
    assert envoys.service_of("type.googleapis.com/envoy.api.v2.Cluster") == "CDS"
    assert envoys.service_of("type.googleapis.com/istio.networking.v1alpha3.WorkloadEntry") == "WorkloadEntry"
    from xdsspy.decode import envelope

    old = envelope.Node(id="x", build_version="5f7bf108a93e962bf21dce7bbdfd9294d747cc71/1.12.0/Clean/RELEASE")
    assert envoys.envoy_version(old) == "1.12.0" and envoys.istio_version(old) == ""
