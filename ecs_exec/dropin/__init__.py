"""A drop-in for AWS's ``session-manager-plugin`` that runs sessions on the native transport.

``main`` is the entry point (``ecs-exec-plugin``, ``python -m ecs_exec.dropin``); ``args``
holds the official argv contract, ``shell`` the shell session.
"""

from __future__ import annotations
