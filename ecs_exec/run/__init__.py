"""`ecs-exec run`: a fresh task from a service or a task definition, a session in it through
the same runner as exec (``ecs_exec.session.runner``), and cleanup on every way out.

request.py (the typed request, -e/--env-file, the overrides limit), keepalive.py (what the
target container runs instead of its command), plan.py (task definition, network, derived
revisions for --image), progress.py (what stderr shows while the task starts), lifecycle.py
(RunTask, the wait, the session, StopTask and deregistration, signals), orphans.py
(`ls --orphans`, `run --cleanup`). docs/run.md describes the behaviour they rely on.
"""
