"""Signals are computed once per media file and stored; matching runs against them."""
