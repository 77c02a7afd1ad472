"""One module per signal kind (see signals/base.py for the contract, signals/registry.py for the list)."""
