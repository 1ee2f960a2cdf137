"""Replicas as M/M/c-like queues fitted to what was observed; predicted latency quantiles.

The autoscale policy's latency target asks "how many replicas keep p95 under the SLO?". CPU and
requests per replica answer it only through a guessed target; a queueing model answers it from the
latency itself. Each replica serves ``c`` requests at once (its workers × threads) and receives
``λ/N`` requests/s (the load balancer spreads λ over N replicas). A request holds a worker for
``B = D + S`` on average: a steady part ``D`` and an exponential part of mean ``S`` (a shifted
exponential: real service times are rarely as spread as a pure exponential, and the split is what
makes a p95 come out right). With Erlang C's probability ``C`` it first waits an exponential time
of rate ``θ = (c/B − λ/N) / ((1 + cs²)/2)`` (M/M/c's wait, scaled by Allen–Cunneen's
approximation for a service time of squared coefficient of variation ``cs² = (S/B)²``). So

    T = D + Exp(1/S) + [with prob. C] Exp(θ)
    mean  = D + S + C/θ
    P(T > D + t) = (1 − C)·e^(−t/S) + C·(θ·e^(−t/S) − e^(−θt)/S) / (θ − 1/S)

:func:`fit` finds ``D`` and ``S`` from the observed mean and quantile at the observed rate and
replica count (``D = 0`` when the tail is as heavy as an exponential's or heavier: then ``S`` alone
is fitted to the quantile). :meth:`Model.quantile_ms` predicts the quantile for another replica
count and :func:`replicas_for` is the fewest that meet an SLO. The fit is redone every evaluation,
so what the model gets wrong is corrected by the next observation. When the service time alone
exceeds the SLO (:meth:`Model.floor_ms`), no replica count helps and the policy says so.

>>> m = fit(rate=40.0, replicas=4, concurrency=1, mean_ms=None, observed_ms=250.0, q=0.95)
>>> round(m.quantile_ms(40.0, 4, 0.95))
250
>>> replicas_for(m, 40.0, slo_ms=150.0, q=0.95, most=50) > 4
True
"""
from __future__ import annotations

import dataclasses
import math


def erlang_c(workers: int, offered: float) -> float:
    """Probability that an arriving request waits in an M/M/c queue (``offered`` = λ·S, in erlangs)."""
    if offered <= 0:
        return 0.0
    if offered >= workers:
        return 1.0
    term, total = 1.0, 1.0
    for k in range(1, workers):
        term *= offered / k
        total += term
    top = term * offered / (1 - offered / workers) / workers
    return top / (total + top)


@dataclasses.dataclass(frozen=True)
class Model:
    """One replica: ``concurrency`` workers, each request ``steady_s`` + Exp(``spread_s``) of work."""

    concurrency: int
    steady_s: float  # D
    spread_s: float  # S

    @property
    def busy_s(self) -> float:
        return self.steady_s + self.spread_s

    def wait_rate(self, per_replica: float) -> float:
        """The rate of the exponential wait: M/M/c's ``c/B − λ``, slowed or sped by Allen–Cunneen's
        ``(1 + cs²)/2`` for the service time's variability (cs = S/B: 1 for a pure exponential)."""
        theta = self.concurrency / self.busy_s - per_replica
        return theta / ((1 + (self.spread_s / self.busy_s) ** 2) / 2)

    def utilization(self, rate: float, replicas: int) -> float:
        return rate / replicas * self.busy_s / self.concurrency

    def tail(self, t: float, per_replica: float) -> float:
        """P(response time > t) at ``per_replica`` requests/s."""
        if t < self.steady_s:
            return 1.0
        t -= self.steady_s
        mu = 1.0 / self.spread_s if self.spread_s > 0 else math.inf
        theta = self.wait_rate(per_replica)
        if theta <= 0:
            return 1.0
        c = erlang_c(self.concurrency, per_replica * self.busy_s)
        plain = math.exp(-mu * t) if mu != math.inf else 0.0
        if mu == math.inf:
            waited = math.exp(-theta * t)
        elif abs(theta - mu) < 1e-9 * mu:
            waited = (1 + mu * t) * plain  # Erlang-2 when the two rates meet
        else:
            waited = (theta * plain - mu * math.exp(-theta * t)) / (theta - mu)
        return (1 - c) * plain + c * waited

    def quantile_ms(self, rate: float, replicas: int, q: float) -> float:
        """The ``q`` quantile (ms) with ``rate`` req/s over ``replicas``; ``inf`` when saturated."""
        per = rate / replicas
        if self.utilization(rate, replicas) >= 1:
            return math.inf
        target = 1 - q
        lo, hi = self.steady_s, self.steady_s + max(self.busy_s, 1e-6)
        while self.tail(hi, per) > target:
            hi = self.steady_s + 2 * (hi - self.steady_s)
        for _ in range(30):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if self.tail(mid, per) > target else (lo, mid)
        return (lo + hi) / 2 * 1000

    def mean_ms(self, rate: float, replicas: int) -> float:
        per = rate / replicas
        theta = self.wait_rate(per)
        if theta <= 0:
            return math.inf
        return (self.busy_s + erlang_c(self.concurrency, per * self.busy_s) / theta) * 1000

    def floor_ms(self, q: float) -> float:
        """The ``q`` quantile with no queueing (infinitely many replicas): the service's own."""
        return (self.steady_s - math.log(1 - q) * self.spread_s) * 1000


STEADIEST = 0.99  # the largest steady share fitted


def _scaled(concurrency: int, busy_s: float, steady_share: float) -> Model:
    return Model(concurrency, busy_s * steady_share, busy_s * (1 - steady_share))


def _bisect(f, lo: float, hi: float, goal: float, steps: int = 40) -> float:
    """The x in [lo, hi] where the rising function f crosses ``goal``."""
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) < goal else (lo, mid)
    return (lo + hi) / 2


def fit(rate: float, replicas: int, concurrency: int, mean_ms: float | None, observed_ms: float, q: float) -> Model:
    """The model whose ``q`` quantile (and mean, when given) at ``rate`` over ``replicas`` are the
    observed ones: for a split between D and S the mean fixes the busy time, and the split is the
    one whose quantile is the observed one (more of D, a lighter tail). A tail heavier than an
    exponential's (or no mean) fits S alone to the quantile."""
    if rate <= 0 or replicas <= 0 or observed_ms <= 0:
        raise ValueError("fitting needs traffic, replicas and a latency")
    saturation = concurrency * replicas / rate

    def quantile(m: Model) -> float:
        return m.quantile_ms(rate, replicas, q)

    share = 0.0
    if mean_ms is not None and mean_ms > 0:
        def by_mean(x: float) -> Model:
            return _scaled(concurrency, _bisect(lambda b: _scaled(concurrency, b, x).mean_ms(rate, replicas),
                                                0.0, saturation, mean_ms), x)
        if quantile(by_mean(0.0)) > observed_ms:  # lighter than an exponential's tail: a steady part
            if quantile(by_mean(STEADIEST)) < observed_ms:
                return by_mean(_bisect(lambda x: -quantile(by_mean(x)), 0.0, STEADIEST, -observed_ms, 24))
            share = STEADIEST  # lighter than the queue allows: the quantile (the SLO's measure) wins
    busy = _bisect(lambda b: quantile(_scaled(concurrency, b, share)), 0.0, saturation, observed_ms, 30)
    return _scaled(concurrency, busy, share)


def replicas_for(model: Model, rate: float, slo_ms: float, q: float, most: int) -> int | None:
    """The fewest replicas (≤ ``most``) whose predicted ``q`` quantile is within ``slo_ms``; None
    when even ``most`` do not (or the service time alone exceeds the SLO)."""
    if model.floor_ms(q) > slo_ms or model.quantile_ms(rate, most, q) > slo_ms:
        return None
    lo, hi = max(1, math.floor(rate * model.busy_s / model.concurrency)), most  # fewer are saturated
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if model.quantile_ms(rate, mid, q) <= slo_ms else (mid + 1, hi)
    return hi
