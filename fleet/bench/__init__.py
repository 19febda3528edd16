"""fleet's benchmark harness (``fleet bench``, ``make bench``): fleet against the documented SDK
fan-out, an unbounded SDK fan-out and the throttle lower bound, each contender in its own process
against its own fresh emulator process. Figures, not tests: nothing here passes or fails on speed.

An installed package (``fleet bench quick`` works from a wheel): the scenario files are package
data in ``scenarios/``; the committed results and the method live at the root of the source
checkout (``bench/README.md``, ``bench/results/``).

Modules: ``scenario`` (scenario files), ``lower_bound`` (the bound from a profile), ``contenders``
(the client processes), ``procs`` (emulator/contender subprocesses), ``metrics`` (result rows),
``harness`` (orchestration), ``render`` (the table).
"""
