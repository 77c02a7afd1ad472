"""The read layer: what the CLI, the pages and the API show, queried in one place per domain.

Each module answers the questions of one domain (``cases``, ``hits``, ``rooms``, ``takedown``,
``sources``, ``audit``) with frozen dataclasses; entry points render them and run no queries of their
own, so a number means the same thing on every screen. The API's response models are derived from these
dataclasses (web/api_models.py), so there is one shape, not two.

Counts of hits always come as a :class:`~ncii_shield.read.hits.HitCounts`, with its three labels:
``messages`` (messages with at least one hit), ``routes`` (hit rows per route: a message found by pdq and
face counts once under each) and ``strongest`` (each message once, under its strongest route).
"""
