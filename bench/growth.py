"""What every figure prints beside its numbers, and how it says how a cost grows with the work.

Pure functions (tests/unit/bench/test_bench_growth.py): the machine's load and CPUs, a `--sizes` list, the
least-squares slope of time against size, and one growth table with the module and its baseline side by side.
"""

import os
import platform


def machine():
    """The machine a figure ran on: CPUs, Python, and the load average (1, 5, 15 min) at this moment."""
    return {"cpus": os.cpu_count() or 0, "python": platform.python_version(),
            "loadavg": [round(x, 2) for x in os.getloadavg()]}


def machine_line(label="machine"):
    m = machine()
    return "%s: %d CPUs, Python %s, load average %s (1, 5, 15 min)" % (
        label, m["cpus"], m["python"], " ".join("%.2f" % x for x in m["loadavg"]))


def parse_sizes(text):
    """'1000,5000,20000' -> [1000, 5000, 20000], sorted, no repeats; a size must be a positive integer."""
    sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    if not sizes or sizes[0] <= 0:
        raise ValueError("--sizes wants positive integers, comma-separated: %r" % text)
    return sizes


def slope(points):
    """Least-squares slope of seconds against size, from {size: seconds}: the cost of one more unit of work.
    None with fewer than two sizes (one point has no slope)."""
    xs = sorted(k for k, v in points.items() if v is not None)
    if len(xs) < 2:
        return None
    ys = [points[x] for x in xs]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def intercept(points):
    """Where the least-squares line meets size 0: the fixed cost (start-up) that does not grow with the work."""
    b = slope(points)
    if b is None:
        return None
    xs = sorted(k for k, v in points.items() if v is not None)
    return sum(points[x] for x in xs) / len(xs) - b * sum(xs) / len(xs)


def growth(sides):
    """{side: {size: seconds}} -> {side: {"seconds": {size: s}, "slope": s/unit, "fixed": s}} for the JSON."""
    return {side: {"seconds": {str(k): round(v, 4) for k, v in points.items()}, "slope": slope(points),
                   "fixed": intercept(points)} for side, points in sides.items()}


def growth_table(unit, sides, per=1):
    """Lines of a table: one row a size, one column a side (seconds), then each side's slope in seconds per
    `per` units and its fixed cost. sides: {side: {size: seconds}} in the order the columns appear."""
    names = list(sides)
    sizes = sorted({size for points in sides.values() for size in points})
    width = {n: max(len(n), 9) for n in names}
    lines = ["%10s" % unit + "".join("  " + n.rjust(width[n]) for n in names)]
    for size in sizes:
        cells = ["-" if sides[n].get(size) is None else "%.3f s" % sides[n][size] for n in names]
        lines.append("%10d" % size + "".join("  " + c.rjust(width[n]) for c, n in zip(cells, names)))
    for n in names:
        b = slope(sides[n])
        if b is None:
            lines.append("%s: one size only, no slope" % n)
        else:
            lines.append("%s: %.4f s per %s %s more (least squares), fixed cost %.3f s"
                         % (n, b * per, "{:,}".format(per), unit, intercept(sides[n])))
    return lines


def curve(name, title, x_label, sides, y_label="seconds"):
    """One curve in the form bench/plot.py draws (bench/README.md, "Growth curves"): sides {side: {size: s}},
    a missing point null."""
    xs = sorted({size for points in sides.values() for size in points})
    return {"name": name, "title": title, "x_label": x_label, "y_label": y_label, "x": xs,
            "series": {side: [points.get(x) for x in xs] for side, points in sides.items()}}
