"""Takedown notices: the registry of where each platform takes reports, and the notices sent to them."""
