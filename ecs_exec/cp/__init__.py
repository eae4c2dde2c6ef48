"""``ecs-exec cp``: files and directories to and from a container, exact, verified, atomic.

* :mod:`.paths` parses SRC and DST (``:PATH``, ``TASK:PATH``, ``TASK/CONTAINER:PATH``, ``-``).
* :mod:`.scripts` holds the container-side sh scripts and parses what they report (no I/O).
* :mod:`.local` reads sources and writes sinks here (temporary name, then rename).
* :mod:`.transfer` runs one copy as a one-off session; :mod:`.outcome` judges how it went;
  :mod:`.progress` draws its progress.
"""
