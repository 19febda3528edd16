"""fleet: run a script on thousands of Azure VMs and VMSS instances through managed Run Commands."""

__version__ = "0.1.0"
