"""Transports: what carries a Session Manager session's bytes.

``native`` speaks the data channel itself (pure Python, over a websocket); ``official_plugin``
drives AWS's ``session-manager-plugin`` binary under pexpect. Both offer ``base.RemoteStream``.
"""

from __future__ import annotations
