"""The routes a hit can come from, strongest evidence first. Light to import, for the CLI and reports."""

KIND_ORDER = ("exact", "pdq", "video", "partial", "face", "text")
