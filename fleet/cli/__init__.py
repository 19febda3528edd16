"""The ``fleet`` command line: parses, wires adapters and renders; no logic a library user needs."""
