"""The leader from a note to its highlight, routed through blank space.

Pure geometry in page points (origin bottom-left). The page is laid on a grid of
CELL-pt squares; a square is blocked when its centre is within `clearance` of an
obstacle: a word of the screenshot (its OCR word box), the note, the highlight's
outline, the header and footer. A* (with a cost for every bend, so leaders come out
as a few straight runs) finds the shortest path from the note's edge to the outline
through free squares; the last run, where the arrow head goes, must have room for the
head (`head_clearance`). Leaders therefore run through margins, the gaps between
bubbles and between lines, never across a word. None when there is no such path.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from .layout import Rect

CELL = 2.0  # pt
BEND_COST = 8  # cells: a bend costs as much as 16 pt of straight line
HEAD_CELLS = 3  # the last run is at least this long (the arrow head's length)
MAX_EXPANDED = 150_000
WINDOW = 90.0  # pt around the note and the target that a leader may wander


def window(bounds: Rect, note: Rect, target: Rect, margin: float = WINDOW) -> Rect:
    """The part of `bounds` within `margin` of the box around `note` and `target`: the
    search stays local (a failed search costs little) and leaders stay short."""
    x0 = max(bounds.x, min(note.x, target.x) - margin)
    y0 = max(bounds.y, min(note.y, target.y) - margin)
    x1 = min(bounds.right, max(note.right, target.right) + margin)
    y1 = min(bounds.top, max(note.top, target.top) + margin)
    return Rect(x0, y0, max(1.0, x1 - x0), max(1.0, y1 - y0))

_DIRS = ((1, 0), (-1, 0), (0, 1), (0, -1))


@dataclass(frozen=True)
class Leader:
    points: tuple[tuple[float, float], ...]  # from the note's edge to the outline's edge

    @property
    def end_direction(self) -> tuple[float, float]:
        (x0, y0), (x1, y1) = self.points[-2], self.points[-1]
        n = math.hypot(x1 - x0, y1 - y0) or 1.0
        return (x1 - x0) / n, (y1 - y0) / n


class _Grid:
    def __init__(self, bounds: Rect, cell: float):
        self.b, self.cell = bounds, cell
        self.nx = max(1, int(math.ceil(bounds.width / cell)))
        self.ny = max(1, int(math.ceil(bounds.height / cell)))

    def centre(self, i: int, j: int) -> tuple[float, float]:
        return self.b.x + (i + 0.5) * self.cell, self.b.y + (j + 0.5) * self.cell

    def mask(self, rects: list[Rect], grow: float) -> np.ndarray:
        """Squares whose centre lies within `grow` of any of `rects`."""
        m = np.zeros((self.nx, self.ny), dtype=bool)
        c = self.cell
        for r in rects:
            i0 = int(math.ceil((r.x - grow - self.b.x) / c - 0.5))
            i1 = int(math.floor((r.right + grow - self.b.x) / c - 0.5))
            j0 = int(math.ceil((r.y - grow - self.b.y) / c - 0.5))
            j1 = int(math.floor((r.top + grow - self.b.y) / c - 0.5))
            i0, j0 = max(i0, 0), max(j0, 0)
            i1, j1 = min(i1, self.nx - 1), min(j1, self.ny - 1)
            if i0 <= i1 and j0 <= j1:
                m[i0:i1 + 1, j0:j1 + 1] = True
        return m


def route(note: Rect, target: Rect, obstacles: list[Rect], bounds: Rect, *,
          clearance: float, head_clearance: float, cell: float = CELL) -> Leader | None:
    """A leader from `note` to `target` (the outline, stroke included) avoiding
    `obstacles` by `clearance` (the head's last run by `head_clearance`), inside
    `bounds`; None if there is no way (module doc)."""
    g = _Grid(bounds, cell)
    body = g.mask(list(obstacles), clearance)
    head = g.mask(list(obstacles), head_clearance)
    at_note = g.mask([note], clearance)
    at_target = g.mask([target], clearance)
    blocked = body | at_note | at_target
    head_blocked = head | at_note | at_target
    nx, ny = g.nx, g.ny

    def neighbours_of(mask: np.ndarray) -> np.ndarray:
        out = np.zeros_like(mask)
        out[1:, :] |= mask[:-1, :]
        out[:-1, :] |= mask[1:, :]
        out[:, 1:] |= mask[:, :-1]
        out[:, :-1] |= mask[:, 1:]
        return out & ~mask

    starts = np.argwhere(neighbours_of(at_note) & ~blocked)
    goal = neighbours_of(at_target) & ~blocked
    if not len(starts) or not goal.any():
        return None
    # heuristic: cells from the target's grown rectangle
    tx0 = (target.x - clearance - bounds.x) / cell
    tx1 = (target.right + clearance - bounds.x) / cell
    ty0 = (target.y - clearance - bounds.y) / cell
    ty1 = (target.top + clearance - bounds.y) / cell

    def h(i: int, j: int) -> float:
        return max(tx0 - i, 0, i - tx1) + max(ty0 - j, 0, j - ty1)

    blocked_l = blocked.tolist()
    best: dict[tuple[int, int, int], float] = {}
    came: dict[tuple[int, int, int], tuple[int, int, int] | None] = {}
    heap: list = []
    for i, j in starts.tolist():
        for d in range(4):
            s = (i, j, d)
            best[s] = 0.0
            came[s] = None
            heapq.heappush(heap, (h(i, j), 0.0, s))
    expanded = 0
    while heap:
        f, cost, s = heapq.heappop(heap)
        if cost > best.get(s, math.inf):
            continue
        i, j, d = s
        if goal[i, j] and _can_end(i, j, d, at_target, head_blocked, came, s):
            return _leader(g, _path(came, s), note, target)
        expanded += 1
        if expanded > MAX_EXPANDED:
            return None
        for nd, (dx, dy) in enumerate(_DIRS):
            ni, nj = i + dx, j + dy
            if not (0 <= ni < nx and 0 <= nj < ny) or blocked_l[ni][nj]:
                continue
            step = 1.0 + (BEND_COST if nd != d and came[s] is not None else 0.0)
            ns = (ni, nj, nd)
            nc = cost + step
            if nc < best.get(ns, math.inf):
                best[ns] = nc
                came[ns] = s
                heapq.heappush(heap, (nc + h(ni, nj), nc, ns))
    return None


def _can_end(i, j, d, at_target, head_blocked, came, s) -> bool:
    """The arrow may end here: heading straight into the target, with room for the
    head over the last HEAD_CELLS squares of a straight run."""
    dx, dy = _DIRS[d]
    ni, nj = i + dx, j + dy
    if not (0 <= ni < at_target.shape[0] and 0 <= nj < at_target.shape[1]) \
            or not at_target[ni, nj]:
        return False
    k, cur = 0, s
    while cur is not None and k < HEAD_CELLS:
        ci, cj, cd = cur
        if head_blocked[ci, cj] or (cd != d and k > 0):
            return False
        cur = came[cur]
        k += 1
    return k >= HEAD_CELLS


def _path(came, s) -> list[tuple[int, int, int]]:
    out = []
    while s is not None:
        out.append(s)
        s = came[s]
    return out[::-1]


def _leader(g: _Grid, path, note: Rect, target: Rect) -> Leader:
    pts = [g.centre(i, j) for i, j, _d in path]
    # from the note's nearest edge point, and on to the target's edge
    sx, sy = pts[0]
    first = (min(max(sx, note.x), note.right), min(max(sy, note.y), note.top))
    ex, ey = pts[-1]
    dx, dy = _DIRS[path[-1][2]]
    if dx:
        last = (target.x if dx > 0 else target.right, ey)
    else:
        last = (ex, target.y if dy > 0 else target.top)
    corners = [pts[0]]
    for k in range(1, len(path) - 1):
        if path[k + 1][2] != path[k][2]:
            corners.append(pts[k])
    out = [first] + corners + [last]
    # drop repeats and points on a straight line
    clean: list[tuple[float, float]] = []
    for p in out:
        if clean and math.isclose(p[0], clean[-1][0]) and math.isclose(p[1], clean[-1][1]):
            continue
        if len(clean) >= 2 and _collinear(clean[-2], clean[-1], p):
            clean[-1] = p
        else:
            clean.append(p)
    return Leader(tuple(clean))


def _collinear(a, b, c) -> bool:
    return abs((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])) < 1e-6
