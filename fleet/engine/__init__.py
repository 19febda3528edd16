"""The engine: launches run commands under concurrency and throttle limits, polls within a read
budget and turns what Azure reports into per-target outcomes. Pure logic plus anyio; all ARM
I/O goes through ``fleet.ports``.
"""
