"""Score hits against the demo's ground truth: recall and false hits per label and per route."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ncii_shield.demo.build import DemoGroundTruth
from ncii_shield.read.hits import HitRow


@dataclass
class LabelScore:
    label: str
    expected: int = 0  # media files that should be found
    found: int = 0  # of those, found by any route
    via_route: int = 0  # of those, found by the route the ground truth names
    negatives: int = 0  # media files that must not be found
    false_hits: int = 0
    missed: list[str] = field(default_factory=list)
    wrongly_hit: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        return self.found / self.expected if self.expected else None


def score(truth: DemoGroundTruth, rows: list[HitRow]) -> dict[str, LabelScore]:
    routes: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if row.media_path:
            routes[row.media_path].update(row.kinds)
    scores: dict[str, LabelScore] = {}
    for media in truth.media:
        s = scores.setdefault(media.label, LabelScore(media.label))
        hit_routes = routes.get(media.path, set())
        if media.expect_hit:
            s.expected += 1
            if hit_routes:
                s.found += 1
                if media.route is None or media.route in hit_routes:
                    s.via_route += 1
            else:
                s.missed.append(media.path)
        else:
            s.negatives += 1
            if hit_routes:
                s.false_hits += 1
                s.wrongly_hit.append(media.path)
    return scores


def perfect(scores: dict[str, LabelScore]) -> bool:
    return all(
        s.found == s.expected and s.via_route == s.expected and s.false_hits == 0 for s in scores.values()
    )
