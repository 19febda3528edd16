"""The Azure adapter: the only place that talks to ARM, through the real azure-mgmt-* clients."""
