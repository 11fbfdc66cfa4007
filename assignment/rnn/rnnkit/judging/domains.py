"""Each graded function's argument domain, declared once; its cases are derived from it.

A Factor is one property of a function's arguments with its boundary Levels: which axes
are equal or differ (D vs H, N vs K ...), the float dtype, the index dtype, a parameter
at 0 / None / its default / its extremes, N past a chunk size, values past exp's
overflow. A Level names the factory keywords that produce it and `holds(payload)`, the
test that a drawn payload really is at that boundary (tests/test_coverage.py checks
every one, under several seeds).

`cases()` turns a domain into the rows of a pairwise covering array: every level of every
factor is hit, and every pair of levels of two factors that interact is hit by one case
(a factor marked `alone` acts on its own: its levels are each hit once); pairs named in
`excluded` cannot be in one case. The generator is greedy and deterministic, so the
case labels (the levels that are not a factor's first) are the same for every
submission; the values inside are drawn from each submission's seed.
"""
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property, partial
from itertools import combinations
from typing import Callable

SEEDS = 3  # uncovered pairs a new row is grown from (the one covering most is kept)


@dataclass(frozen=True)
class Level:
    label: str  # in the case label, unless the level is its factor's first (ordinary)
    kwargs: tuple = ()  # (name, value) pairs for the factory
    holds: Callable = lambda payload: True  # the payload is at this boundary
    kind: str = ""  # another judge for cases at this level (checks.Case.kind)


def level(label: str, holds: Callable, kind: str = "", **kwargs) -> Level:
    return Level(label, tuple(sorted(kwargs.items())), holds, kind)


@dataclass(frozen=True)
class Factor:
    name: str
    levels: tuple[Level, ...]
    alone: bool = False  # interacts with no other factor: each level hit once suffices


@dataclass(frozen=True)
class Domain:
    factory: Callable
    factors: tuple[Factor, ...]
    excluded: tuple[tuple[str, str], ...] = ()  # level labels that cannot meet in a case
    public: tuple[tuple[str, ...], ...] = ((),)  # rows shipped to students: level labels
    fixed: dict = field(default_factory=dict)  # factory keywords of every case

    @cached_property
    def _excluded(self) -> frozenset:
        return frozenset(self.excluded) | frozenset((b, a) for a, b in self.excluded)

    @cached_property
    def _index(self) -> dict[str, tuple[Factor, Level]]:
        index = {lv.label: (f, lv) for f in self.factors for lv in f.levels}
        assert len(index) == sum(len(f.levels) for f in self.factors), "level labels repeat"
        return index

    def level(self, label: str) -> Level:
        return self._index[label][1]

    def feasible(self, a: Level, b: Level) -> bool:
        return (a.label, b.label) not in self._excluded

    @cached_property
    def _required(self) -> frozenset:
        return frozenset(self.required_pairs())

    def required_pairs(self) -> set[tuple[str, str]]:
        """Every feasible pair of levels of two interacting factors (by label)."""
        pairs = set()
        for f, g in combinations([f for f in self.factors if not f.alone], 2):
            pairs |= {(a.label, b.label) for a in f.levels for b in g.levels
                      if self.feasible(a, b)}
        return pairs

    def rows(self) -> list[dict[str, Level]]:
        """The covering array: public rows first (the rest of their factors at the first
        level), then rows chosen greedily until every required pair and level is hit."""
        return [dict(row) for row in self._rows]

    @cached_property
    def _rows(self) -> list[dict[str, Level]]:
        rows = [self._complete({self._factor_of(lb).name: self.level(lb) for lb in labels})
                for labels in self.public]
        todo = set(self._required) - _pairs_of(rows)
        while todo:  # of the rows grown from each uncovered pair, the one covering most
            grown = [self._complete({self._factor_of(a).name: self.level(a),
                                     self._factor_of(b).name: self.level(b)}, todo)
                     for a, b in sorted(todo)[:SEEDS]]
            gains = [len(_pairs_of([row]) & todo) for row in grown]
            rows.append(grown[gains.index(max(gains))])
            todo -= _pairs_of(rows[-1:])
        rows = self._without_redundant(rows)
        for factor in self.factors:  # every level once at least (alone factors: only so)
            for lv in factor.levels:
                if not any(row[factor.name] is lv for row in rows):
                    self._place(rows, factor, lv)
        return rows

    def _without_redundant(self, rows: list) -> list:
        """rows without each later row whose pairs the others all cover (public stay)."""
        counts = Counter(pair for row in rows for pair in _pairs_of([row]))
        for row in list(reversed(rows[len(self.public):])):
            own = _pairs_of([row])
            if all(counts[pair] > 1 for pair in own & self._required):
                rows = [r for r in rows if r is not row]
                counts.subtract(own)
        return rows

    def _factor_of(self, label: str) -> Factor:
        return self._index[label][0]

    def _complete(self, row: dict, todo: set = frozenset()) -> dict[str, Level]:
        """row with every missing factor set to the level that covers most of `todo`
        (ties: the earliest level), among those feasible with the row so far."""
        for factor in self.factors:
            if factor.name in row:
                continue
            options = [lv for lv in factor.levels
                       if all(self.feasible(lv, other) for other in row.values())]
            assert options, f"no level of {factor.name} fits {[v.label for v in row.values()]}"
            gain = [sum((lv.label, o.label) in todo or (o.label, lv.label) in todo
                        for o in row.values()) for lv in options]
            row[factor.name] = options[gain.index(max(gain))]
        return row

    def _place(self, rows: list, factor: Factor, lv: Level) -> None:
        """Put a level no row has yet where it replaces a first (ordinary) level and fits,
        on the row with the fewest non-ordinary levels; else in a row of its own."""
        counts = Counter(pair for row in rows for pair in _pairs_of([row]))

        def fits(row):  # the level it replaces is ordinary and no required pair needs it
            own = row[factor.name].label
            return (row[factor.name] is factor.levels[0] and all(
                self.feasible(lv, other) for name, other in row.items() if name != factor.name)
                and all(counts[own, o.label] > 1 for n, o in row.items() if n != factor.name
                        and {(own, o.label), (o.label, own)} & self._required))
        candidates = [r for r in rows[len(self.public):] if fits(r)]
        if candidates:
            best = min(candidates, key=lambda r: sum(r[f.name] is not f.levels[0]
                                                     for f in self.factors))
            best[factor.name] = lv
        else:
            rows.append(self._complete({factor.name: lv}))

    def cases(self, case_class, large: tuple = ()):
        """checks.Case objects, one per row, after the `large` ones given."""
        out = list(large)
        for i, row in enumerate(self.rows()):
            kwargs = dict(self.fixed)
            kinds = [lv.kind for lv in row.values() if lv.kind]
            for lv in row.values():
                kwargs.update(dict(lv.kwargs))
            out.append(case_class(label_of(row, self.factors), partial(self.factory, **kwargs),
                                  public=i < len(self.public), kind=kinds[0] if kinds else "",
                                  levels=tuple(lv.label for lv in row.values())))
        labels = [c.label for c in out]
        assert len(set(labels)) == len(labels), f"two cases share a label: {labels}"
        return tuple(out)


def _pairs_of(rows) -> set[tuple[str, str]]:
    found = set()
    for row in rows:
        labels = [lv.label for lv in row.values()]
        found |= {(a, b) for a in labels for b in labels if a != b}
    return found


def label_of(row: dict, factors) -> str:
    """The case's stable name: its levels that are not their factor's first."""
    parts = [row[f.name].label for f in factors if row[f.name] is not f.levels[0]]
    return ", ".join(parts) or "ordinary"
