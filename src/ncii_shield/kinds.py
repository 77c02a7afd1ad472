"""The routes a hit can come from, strongest evidence first. Light to import, for the CLI and reports.

Each name is one signal kind in signals/registry.py (which checks that the two lists agree); the registry
is not imported here, so reading the order costs nothing at start-up.
"""

KIND_ORDER = ("exact", "pdq", "video", "partial", "face", "text")
