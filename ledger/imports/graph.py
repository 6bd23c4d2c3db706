"""The shape of an edge-list table: units ranked parent-before-child, and the cycles that prevent it."""

from __future__ import annotations

from collections import defaultdict

Edge = tuple[int, str, str]  # row, from, to


def _cycles(nodes: list[str], rank: dict[str, int],
            out: dict[str, list[Edge]]) -> list[list[Edge]]:
    # units below a cycle are unranked too: peel off those that lead to no cycle, so that every
    # walk below follows edges that stay among units on (or leading into) a cycle
    live = {n for n in nodes if n not in rank}
    peeled = True
    while peeled:
        dead = {n for n in live if not any(e[2] in live for e in out[n])}
        live -= dead
        peeled = bool(dead)
    cycles: list[list[Edge]] = []
    seen: set[str] = set()
    for start in (n for n in nodes if n in live):
        if start in seen:
            continue
        path: list[Edge] = []
        pos: dict[str, int] = {}
        n = start
        while n not in pos and n not in seen:
            pos[n] = len(path)
            nxt = next(e for e in out[n] if e[2] in live)
            path.append(nxt)
            n = nxt[2]
        seen.update(pos)
        if n in pos:
            cycles.append(path[pos[n] :])
    return cycles


def topological(nodes: list[str], edges: list[Edge]) -> tuple[dict[str, int], list[list[Edge]]]:
    """Rank holders parent-before-child (ties by first appearance); also return cycles found."""
    order = {n: i for i, n in enumerate(nodes)}
    out: dict[str, list[Edge]] = defaultdict(list)
    indeg = dict.fromkeys(nodes, 0)
    for e in edges:
        out[e[1]].append(e)
        indeg[e[2]] += 1
    ready = sorted((n for n in nodes if indeg[n] == 0), key=order.__getitem__)
    rank: dict[str, int] = {}
    while ready:
        n = ready.pop(0)
        rank[n] = len(rank)
        for _, _, child in out[n]:
            indeg[child] -= 1
            if indeg[child] == 0:
                ready.append(child)
        ready.sort(key=order.__getitem__)
    return rank, _cycles(nodes, rank, out)
