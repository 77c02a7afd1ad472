"""The web app and the API: pages for case workers, /api/v1 and HMA-compatible endpoints for platforms."""
