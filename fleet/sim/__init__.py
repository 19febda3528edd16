"""An Azure Resource Manager emulator that the real Azure SDK clients talk to over HTTPS.

Organised like moto: per service, routes -> request parsing -> state model. It must be unkind:
run commands take time, throttling follows Azure's published limits with the real headers, and
faults are injectable from a fleet profile. Nothing in this package imports the engine.
"""
