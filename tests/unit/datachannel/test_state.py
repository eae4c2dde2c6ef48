"""The transition tables drive every state change; missing pairs are local bugs."""

from __future__ import annotations

import pytest

from ecs_exec.datachannel.state import (
    AGENT_TRANSITIONS,
    CLIENT_TRANSITIONS,
    State,
    StateMachine,
    Table,
    Trigger,
)
from ecs_exec.errors import LocalProtocolError


@pytest.mark.parametrize("table", [CLIENT_TRANSITIONS, AGENT_TRANSITIONS])
def test_every_state_can_close_and_closed_is_final(table: Table) -> None:
    for state in State:
        machine = StateMachine(table)
        machine.state = state
        assert machine.process(Trigger.CLOSE) is state
        assert machine.state is State.CLOSED
    assert set(table[State.CLOSED]) == {Trigger.CLOSE}


def test_handshake_path_and_legacy_path() -> None:
    machine = StateMachine(CLIENT_TRANSITIONS)
    assert machine.state is State.STARTING
    machine.process(Trigger.HANDSHAKE_REQUEST)
    assert not machine.allows(Trigger.HANDSHAKE_REQUEST)  # never redone
    assert machine.process(Trigger.OUTPUT) is State.HANDSHAKING  # client: delivered, no change
    machine.process(Trigger.HANDSHAKE_COMPLETE)
    assert machine.state is State.OPEN
    legacy = StateMachine(AGENT_TRANSITIONS)
    legacy.process(Trigger.OUTPUT)
    assert legacy.state is State.OPEN


def test_illegal_transition_raises_local_protocol_error() -> None:
    agent = StateMachine(AGENT_TRANSITIONS)
    agent.process(Trigger.HANDSHAKE_REQUEST)
    assert not agent.allows(Trigger.OUTPUT)  # the agent sends no output during a handshake
    with pytest.raises(LocalProtocolError, match="'output' in state HANDSHAKING"):
        agent.process(Trigger.OUTPUT)
    assert agent.state is State.HANDSHAKING
    with pytest.raises(LocalProtocolError):
        StateMachine(CLIENT_TRANSITIONS).process(Trigger.HANDSHAKE_COMPLETE)
