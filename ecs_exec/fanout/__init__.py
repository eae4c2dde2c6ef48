"""Run one command on many tasks at once (``--all``, ``--tasks``): see docs/fanout.md.

:func:`~ecs_exec.fanout.engine.run_fanout` resolves the targets (:mod:`.targets`) and runs
one session per task in one event loop (:mod:`.engine`), through the single exec's session
machinery (``ecs_exec.session.runner``).
"""
