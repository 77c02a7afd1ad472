"""The room graph: which chats point to which rooms, and where a case's hits are.

Two halves: the links themselves (text/room_links.py: what a message points at, indexed per message,
and aliases that say where a link leads) and the graph read from them (read/rooms.py). This module
keeps the names callers have always imported from here.
"""

from __future__ import annotations

from ncii_shield.read.rooms import Chat, Edge, RoomGraph, room_graph
from ncii_shield.text.room_links import ROOMS_SCOPE, add_alias, index_links, normalise_link, targets

__all__ = [
    "ROOMS_SCOPE",
    "Chat",
    "Edge",
    "RoomGraph",
    "add_alias",
    "index_links",
    "normalise_link",
    "room_graph",
    "targets",
]
