"""A benign, reproducible demo case: a Telegram Desktop export seeded with copies of one person's photos.

Everything in it is a stand-in (public-domain portraits, nature photographs, fictional chat text), so the
whole flow can be shown and tested without ever touching real abusive content. Build it with
`ncii_shield.demo.build.build_demo`.
"""
