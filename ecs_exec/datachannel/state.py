"""Channel states and the transition tables that drive them (h11 ``_state.py`` style).

Theory of operation
-------------------
A channel never assigns its state directly: it reports a :class:`Trigger` (something that
happened on the wire or through its API) to a :class:`StateMachine`, which looks up
``(state, trigger)`` in its role's table and moves to the state found there. A pair missing
from the table is a bug in the channel and raises
:class:`~ecs_exec.errors.LocalProtocolError`. The channels ask :meth:`StateMachine.allows`
first where the protocol says what to do instead: a local call becomes an
:class:`~ecs_exec.errors.InvalidStateError` for the caller, and a message from the far end
that has no transition (a second HandshakeRequest, a HandshakeComplete outside a handshake)
is ignored, as session-manager-plugin ignores it (docs/protocol.md#9-handshake).

The two roles share the states and differ in one place: output during a handshake. The
client delivers it (it is the agent's business not to send any); the agent refuses to send
any until HandshakeComplete, as the real agent does.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType

from ecs_exec.errors import LocalProtocolError


class State(Enum):
    """Lifecycle of a channel.

    ``STARTING``: the session type is not known yet (no handshake, no output so far).
    ``HANDSHAKING``: a HandshakeRequest was sent or received, HandshakeComplete not yet.
    ``OPEN``: the session type is known; data flows both ways.
    ``CLOSED``: channel_closed was sent or received, the channel was closed locally, or the
    far end violated the protocol. Nothing is sent or delivered any more.
    """

    STARTING = "starting"  #: session type not known yet
    HANDSHAKING = "handshaking"  #: handshake in progress
    OPEN = "open"  #: session type known, data flows
    CLOSED = "closed"  #: over; nothing more is sent or delivered


class Trigger(Enum):
    """What happened: the input of a transition.

    Directions depend on the role: the agent *sends* the HandshakeRequest, HandshakeComplete
    and output that the client *receives*.
    """

    HANDSHAKE_REQUEST = "handshake request"  #: a HandshakeRequest was sent or received
    HANDSHAKE_COMPLETE = "handshake complete"  #: HandshakeComplete was sent or received
    OUTPUT = "output"  #: stream output (the first one starts a session without handshake)
    CLOSE = "close"  #: channel_closed, a local close or a protocol violation


Table = Mapping[State, Mapping[Trigger, State]]

_CLOSE = {Trigger.CLOSE: State.CLOSED}

#: The client (session-manager-plugin's role). The first output without a handshake starts
#: a legacy ``Standard_Stream`` session (sessionhandler.go ProcessFirstMessage).
CLIENT_TRANSITIONS: Table = MappingProxyType(
    {
        State.STARTING: {
            Trigger.HANDSHAKE_REQUEST: State.HANDSHAKING,
            Trigger.OUTPUT: State.OPEN,
            **_CLOSE,
        },
        State.HANDSHAKING: {
            Trigger.HANDSHAKE_COMPLETE: State.OPEN,
            Trigger.OUTPUT: State.HANDSHAKING,
            **_CLOSE,
        },
        State.OPEN: {Trigger.OUTPUT: State.OPEN, **_CLOSE},
        State.CLOSED: _CLOSE,  # closing twice is a no-op
    }
)

#: The agent (the sandbox's role): no output while a handshake runs.
AGENT_TRANSITIONS: Table = MappingProxyType(
    {
        State.STARTING: {
            Trigger.HANDSHAKE_REQUEST: State.HANDSHAKING,
            Trigger.OUTPUT: State.OPEN,
            **_CLOSE,
        },
        State.HANDSHAKING: {Trigger.HANDSHAKE_COMPLETE: State.OPEN, **_CLOSE},
        State.OPEN: {Trigger.OUTPUT: State.OPEN, **_CLOSE},
        State.CLOSED: _CLOSE,
    }
)


class StateMachine:
    """The current :class:`State` of one channel, moved only by :meth:`process`.

    Args:
        table: the role's transition table.
    """

    __slots__ = ("_table", "state")

    def __init__(self, table: Table) -> None:
        self._table = table
        self.state = State.STARTING

    def allows(self, trigger: Trigger) -> bool:
        """Whether the table has a transition for ``trigger`` in the current state."""
        return trigger in self._table[self.state]

    def process(self, trigger: Trigger) -> State:
        """Apply ``trigger`` and return the state it left.

        Raises:
            LocalProtocolError: the table has no transition for it (a bug in the channel).
        """
        old = self.state
        new = self._table[old].get(trigger)
        if new is None:
            raise LocalProtocolError(f"no transition for {trigger.value!r} in state {old.name}")
        self.state = new
        return old


__all__ = ["AGENT_TRANSITIONS", "CLIENT_TRANSITIONS", "State", "StateMachine", "Trigger"]
