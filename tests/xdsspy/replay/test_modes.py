"""The replay's modes and answer timeout, as the engine and the command line share them."""

from __future__ import annotations

from xdsspy import cli
from xdsspy.replay import engine
from xdsspy.replay import modes


def test_the_command_line_offers_every_mode_the_engine_knows() -> None:
    parser = cli.build_parser()
    for mode in modes.Mode:
        assert parser.parse_args(["replay", "r.xdsspy", "--mode", mode.value]).mode == mode.value
    assert engine.Mode is modes.Mode


def test_answers_are_awaited_longer_than_envoy_waits_for_endpoints() -> None:
    assert modes.ANSWER_TIMEOUT_S > 15  # Envoy's initial_fetch_timeout: a warming cluster ACKs after it
    assert cli.build_parser().parse_args(["replay", "r.xdsspy"]).answer_timeout == modes.ANSWER_TIMEOUT_S
