"""`ecs-exec doctor`: every ECS Exec prerequisite checked, with the fix.

Library code (no typer): ``runner.diagnose(request, clients)`` runs the checks of
``catalog.CHECKS`` in order and returns a ``model.Report``; ``render`` turns it into text or
the JSON document. One module per check group: ``local``, ``cluster``, ``service``, ``task``,
``permissions``, ``taskrole``, ``network``; ``facts`` holds the shared AWS look-ups.
"""
