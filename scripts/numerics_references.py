"""High-precision reference values of ``tests/test_numerics_stress.py``, with mpmath.

The test module holds its grids as literals; this script reads them (by parsing the
file, without importing clvmodels), computes every reference value at 30–60 digits by
two independent routes, checks that the routes agree, and prints the literals to paste
into the test module::

    python -m venv /tmp/num_venv && /tmp/num_venv/bin/pip install mpmath
    /tmp/num_venv/bin/python scripts/numerics_references.py > /tmp/references.txt

(about 90 minutes on one core; ``... numerics_references.py pareto expected`` prints those
sections only, in a few minutes; ``--resume LOG`` first takes the DERT rows an
interrupted run wrote to its standard error ``LOG`` (may be repeated), and ``--reverse``
computes the DERT points from the last, so that two processes can share the work).  The routes:

* discounted purchases of an active BG/NBD customer with parameters ``(r, α, a, b)``
  over ``[0, H]`` — (i) ``E_p[g(p)]``, ``p ~ Beta(a, b)``, where the time integral is in
  closed form, ``g(p) = (r/p) e^c [E_{r+1}(c) − X^(−r) e^(−c(X−1)) e^(cX) E_{r+1}(cX)]``,
  ``c = δα/p``, ``X = 1 + pH/α`` (``E_n`` the generalised exponential integral; the Beta
  integral by tanh-sinh quadrature in ``p`` and in ``1 − p``); (ii) ``∫_0^H e^(−δt)
  E'(t) dt`` with ``E'(t) = (r/α) 2F1(r+1, a; a+b; −t/α)`` (the Beta average of
  ``(r/α)(1 + pt/α)^(−(r+1))``), by tanh-sinh quadrature in ``t``
  (with Pfaff's transformation, so that mpmath's ``hyp2f1`` sums a series of
  positive terms);
  where mpmath's ``hyp2f1`` fails or takes over two minutes, route (i) is checked
  against itself at 45 digits instead (the script reports how many values each way);
* ``E[X(t)]`` of an active BG/NBD customer (FHL 2005 eq. 7 at the posterior parameters)
  — (i) the Beta integral of ``(1 − (1 + ps)^(−r))/p`` by tanh-sinh quadrature; (ii)
  eq. 7 with mpmath's ``hyp2f1`` (which overflows or returns garbage, e.g. 4e856, at
  some of these parameters; where its value is outside ``(0, r s]`` only (i) is used);
* Pareto/NBD: ``(r/α) β e^z E_s(z)`` minus the same beyond ``H`` (``z = δβ``), and
  ``(r/α) ∫_0^H e^(−δt) (β/(β+t))^s dt`` by tanh-sinh quadrature.
"""

from __future__ import annotations

import ast
import collections
import itertools
import signal
import sys
from pathlib import Path

import mpmath as mp

TESTS = Path(__file__).resolve().parents[1] / "tests" / "test_numerics_stress.py"
AGREE = mp.mpf("1e-13")  # the two routes must agree to this relative difference


def grids() -> dict[str, object]:
    """The literal assignments of the test module (grids of parameters)."""
    tree = ast.parse(TESTS.read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return found


def exp_expint(n, x):
    """``e^x E_n(x)`` for ``n, x > 0``: modified Lentz continued fraction for ``x ≥ 1``
    (Numerical Recipes 6.3; mpmath's ``expint`` fails for e.g. ``n = 720, x = 1613``),
    mpmath's series below."""
    n, x = mp.mpf(n), mp.mpf(x)
    if x < 1:
        return mp.exp(x) * mp.expint(n, x)
    tiny, eps = mp.mpf(10) ** -90, mp.mpf(10) ** -34
    b = x + n
    c, d = 1 / tiny, 1 / b
    h = d
    for i in itertools.count(1):
        an = -i * (n - 1 + i)
        b += 2
        d = 1 / (an * d + b)
        c = b + an / c
        h *= c * d
        if abs(c * d - 1) < eps:
            return h
    raise AssertionError("unreachable")


def _beta_breaks(a, b, extra):
    mean = a / (a + b)
    sd = mp.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    points = {mp.mpf(0), mp.mpf(1), *(mp.mpf(e) for e in extra)}
    points |= {mean + k * sd for k in (-60, -30, -15, -8, -4, -2, -1, 0, 1, 2, 4, 8, 15, 30, 60)}
    for k in range(1, 18):
        points |= {mp.mpf(10) ** -k, 1 - mp.mpf(10) ** -k}
    return sorted(p for p in points if 0 <= p <= 1)


def beta_average(f, a, b, extra=()):
    """``E[f(p)]``, ``p ~ Beta(a, b)``: tanh-sinh on ``p ∈ [0, ½]`` and ``q = 1 − p ∈
    [0, ½]``; a side whose exponent is below 1 in ``u = p^a`` (``u = q^b``), which
    removes the density's singularity."""
    a, b = mp.mpf(a), mp.mpf(b)
    log_beta = mp.log(mp.beta(a, b))
    half = mp.mpf(1) / 2
    points = _beta_breaks(a, b, extra)
    left = [*(p for p in points if p < half), half]
    right = [*sorted({1 - p for p in points if p > half} | {mp.mpf(0)}), half]

    def side(breaks, c, other, value):  # ∫_0^½ x^(c−1) (1−x)^(other−1) value(x) dx / B
        if c < 1:
            def g(u):
                x = u ** (1 / c)
                return mp.exp((other - 1) * mp.log1p(-x) - log_beta) / c * value(x)

            return mp.quad(g, [x**c for x in breaks])
        return mp.quad(
            lambda x: mp.exp((c - 1) * mp.log(x) + (other - 1) * mp.log1p(-x) - log_beta)
            * value(x),
            breaks,
        )

    return side(left, a, b, f) + side(right, b, a, lambda q: f(1 - q))


def bgnbd_discounted_by_p(r, alpha, a, b, delta, horizon):
    r, alpha, delta = mp.mpf(r), mp.mpf(alpha), mp.mpf(delta)

    def g(p):
        c = delta * alpha / p
        whole = exp_expint(r + 1, c)
        if horizon is None:
            return r / p * whole
        x = 1 + p * mp.mpf(horizon) / alpha
        return r / p * (whole - x**-r * mp.exp(-c * (x - 1)) * exp_expint(r + 1, c * x))

    extra = [delta * alpha / k for k in (0.01, 0.1, 1, 10, 100)]
    if horizon is not None:
        extra += [alpha / mp.mpf(horizon) * k for k in (0.1, 1, 10)]
    return beta_average(g, a, b, extra)


def bgnbd_discounted_by_t(r, alpha, a, b, delta, horizon):
    r, alpha, a, b, delta = (mp.mpf(v) for v in (r, alpha, a, b, delta))
    end = 80 / delta if horizon is None else mp.mpf(horizon)
    first = alpha / (r + 1) / 1000
    edges = {mp.mpf(0), end, *(x / delta for x in (0.1, 1, 10))}
    edges |= {first * mp.mpf(10) ** k for k in range(40) if first * mp.mpf(10) ** k < end}

    def rate(t):  # Pfaff: 2F1(r+1, a; a+b; −s) = (1+s)^(−r−1) 2F1(r+1, b; a+b; s/(1+s))
        s = t / alpha
        return mp.exp(-delta * t - (r + 1) * mp.log1p(s)) * mp.hyp2f1(r + 1, b, a + b, s / (1 + s))

    return r / alpha * mp.quad(rate, sorted(e for e in edges if e <= end))


def _with_alarm(seconds, compute, *args):
    """``compute(*args)``, or ``None`` if it fails or takes longer than ``seconds``
    (mpmath's ``hyp2f1`` is slow or fails for some huge parameters)."""

    def give_up(signum, frame):
        raise TimeoutError

    signal.signal(signal.SIGALRM, give_up)
    signal.alarm(seconds)
    try:
        return compute(*args)
    except (TimeoutError, ValueError, ZeroDivisionError):
        return None
    finally:
        signal.alarm(0)


def active_expected_by_p(s, r, a, b):
    s, r = mp.mpf(s), mp.mpf(r)
    return beta_average(lambda p: -mp.expm1(-r * mp.log1p(p * s)) / p, a, b, [1 / s, 1 / (r * s)])


def active_expected_closed(s, r, a, b):
    s, r, a, b = (mp.mpf(v) for v in (s, r, a, b))
    value = (a + b - 1) / (a - 1) * (1 - (1 + s) ** -r * mp.hyp2f1(r, b, a + b - 1, s / (1 + s)))
    return value if mp.isfinite(value) and 0 < value <= r * s else None  # E ≤ E[N(t)]


def pareto_closed(r, alpha, s, beta, delta, horizon):
    r, alpha, s, beta, delta = (mp.mpf(v) for v in (r, alpha, s, beta, delta))
    z = delta * beta
    whole = exp_expint(s, z)
    if horizon is not None:
        x = 1 + mp.mpf(horizon) / beta
        whole -= x ** (1 - s) * mp.exp(-z * (x - 1)) * exp_expint(s, z * x)
    return r / alpha * beta * whole


def pareto_by_t(r, alpha, s, beta, delta, horizon):
    r, alpha, s, beta, delta = (mp.mpf(v) for v in (r, alpha, s, beta, delta))
    end = 80 / delta if horizon is None else mp.mpf(horizon)
    edges = {mp.mpf(0), end}
    for k in range(-8, 9):
        edges |= {e for e in (x * mp.mpf(10) ** k for x in (beta, beta / s, 1 / delta)) if e < end}

    def survival(t):
        return mp.exp(-delta * t) * (beta / (beta + t)) ** s

    return r / alpha * mp.quad(survival, sorted(edges))


def _checked(first, second, label):
    if second is not None and abs(first - second) > AGREE * abs(first):
        sys.exit(f"{label}: the routes disagree, {mp.nstr(first, 20)} vs {mp.nstr(second, 20)}")
    return float(first)


def bgnbd_alive(x, t_x, T, r, alpha, a, b, shift):
    """P(alive): FHL 2008 note 021 (``shift = 0``), BDF 2007 appendix A (``shift = 1``)."""
    x, t_x, T, r, alpha, a, b = (mp.mpf(v) for v in (x, t_x, T, r, alpha, a, b))
    if x == 0 and shift == 0:
        return mp.mpf(1)
    return 1 / (1 + a / (b + x - 1 + shift) * ((alpha + T) / (alpha + t_x)) ** (r + x))


def _dert(g, checks):
    rows = []
    points = g["DERT_GRID"][::-1] if REVERSE else g["DERT_GRID"]
    for point in points:
        if repr(point) in RESUMED:
            rows.append(RESUMED[repr(point)])
            checks["DERT, from the resumed log"] += len(rows[-1])
            continue
        values = []
        for horizon in g["DERT_HORIZONS"]:
            by_p = bgnbd_discounted_by_p(*point, horizon)
            by_t = _with_alarm(120, bgnbd_discounted_by_t, *point, horizon)
            if by_t is not None and not abs(by_t - by_p) <= AGREE * abs(by_p):
                by_t = None  # mpmath's hyp2f1 returned garbage (e.g. -8e5510)
            if by_t is None:  # check route (i) against itself at 45 digits instead
                with mp.workdps(45):
                    by_t = bgnbd_discounted_by_p(*point, horizon)
                checks["DERT, route (i) at 45 digits"] += 1
            else:
                checks["DERT, both routes"] += 1
            values.append(_checked(by_p, by_t, f"DERT {point} H={horizon}"))
        rows.append(tuple(values))
        print(f"# DERT {point}: {values}", file=sys.stderr, flush=True)
    rows = rows[::-1] if REVERSE else rows
    print("DERT_REFERENCE = (\n" + "".join(f"    {row!r},\n" for row in rows) + ")")


def _pareto(g, checks):
    rows = []
    for point in g["PARETO_GRID"]:
        values = [
            _checked(pareto_closed(*point, h), pareto_by_t(*point, h), f"Pareto {point} H={h}")
            for h in g["PARETO_HORIZONS"]
        ]
        checks["Pareto/NBD, both routes"] += len(values)
        rows.append(tuple(values))
    print("PARETO_REFERENCE = (\n" + "".join(f"    {row!r},\n" for row in rows) + ")")


def _active(post, checks, name):
    closed = _with_alarm(60, active_expected_closed, *post)
    checks[f"E {name}, " + ("both routes" if closed is not None else "route (i)")] += 1
    return _checked(active_expected_by_p(*post), closed, f"E {post}")


def _expected(g, checks):
    with mp.workdps(60):
        r, alpha = g["EP_R_ALPHA"]
        for name, shift, histories in (
            ("BGNBD", 0, g["EP_HISTORIES"]), ("MBGNBD", 1, g["EP_HISTORIES_MBGNBD"])
        ):
            values = []
            for a, factor, (x, t_x, T), t in itertools.product(
                g["EP_A"], g["EP_B_FACTOR"], histories, g["EP_T"]
            ):
                b = a * factor
                post = (mp.mpf(t) / (alpha + T), r + x, a, mp.mpf(b) + x + shift)
                alive = bgnbd_alive(x, t_x, T, r, alpha, a, b, shift)
                values.append(float(alive * _active(post, checks, name)))
            body = "".join(f"    {v!r},\n" for v in values)
            print(f"EP_REFERENCE_{name} = (\n{body})")
        values = [_active(point, checks, "active") for point in g["ACTIVE_GRID"]]
        print("ACTIVE_REFERENCE = (\n" + "".join(f"    {v!r},\n" for v in values) + ")")


REVERSE = False
"""``--reverse``: compute the DERT points from the last (a second process, to be
combined with the first by ``--resume`` of both logs)."""
RESUMED: dict[str, tuple[float, ...]] = {}
"""DERT rows of an earlier run, by ``repr`` of their point (``--resume LOG``)."""


def resume(log: Path) -> None:
    """Take the DERT rows an earlier run printed to ``log`` (its standard error, one
    ``# DERT (point): [values]`` line per finished point; each was checked when made)."""
    for line in log.read_text().splitlines():
        if line.startswith("# DERT ("):
            point, values = line[len("# DERT ") :].split(": ", 1)
            RESUMED[point] = tuple(ast.literal_eval(values))


def main(sections: list[str]) -> None:
    """Print the reference literals of ``sections`` (``dert``, ``pareto``, ``expected``;
    all by default)."""
    g = grids()
    checks: collections.Counter[str] = collections.Counter()
    mp.mp.dps = 30
    for name in sections or ["dert", "pareto", "expected"]:
        {"dert": _dert, "pareto": _pareto, "expected": _expected}[name](g, checks)
    print(f"# values checked: {dict(checks)}", file=sys.stderr)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    while arguments[:1] in (["--resume"], ["--reverse"]):
        if arguments[0] == "--reverse":
            REVERSE, arguments = True, arguments[1:]
        else:
            resume(Path(arguments[1]))
            arguments = arguments[2:]
    main(arguments)
