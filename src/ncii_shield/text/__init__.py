"""Text signals: personal data, solicitation cues, and the case watchlist."""
