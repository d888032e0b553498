"""Future value: BG/NBD (purchase counts) and Gamma-Gamma (spend per purchase), fitted by maximum
likelihood with scipy.

Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to the
Pareto/NBD model", Marketing Science 24(2); Fader, Hardie & Lee (2005), "RFM and CLV: using
iso-value curves for customer base analysis", JMR 42(4); Fader & Hardie (2013), "The Gamma-Gamma
model of monetary value". Time is in weeks. Per customer: ``x`` repeat purchase occasions (the first
purchase not counted, same-day purchases merged), ``t_x`` the time of the last purchase from the
first, ``T`` the time from the first purchase to the end of the calibration period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

LOG_BOUNDS = (np.log(1e-4), np.log(1e4))
MIN_REPEAT_BUYERS = 50  # below this the fit is not trusted: the naive rate is used instead


@dataclass(frozen=True)
class BgNbd:
    """Fitted BG/NBD parameters: purchase rate ~ Gamma(r, alpha); dropout ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    at_bounds: bool = False


@dataclass(frozen=True)
class GammaGamma:
    """Fitted Gamma-Gamma parameters of spend per purchase."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    at_bounds: bool = False


def bgnbd_log_likelihood(r: float, alpha: float, a: float, b: float,
                         x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Each customer's log-likelihood (Fader, Hardie & Lee 2005, eq. 6), computed in logs."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    return _bgnbd_ll(r, alpha, a, b, x, t_x, T, *np.unique(x, return_inverse=True))


def _bgnbd_ll(r, alpha, a, b, x, t_x, T, values, at) -> np.ndarray:
    # the special functions depend on x alone, which takes few values (``values``, ``at`` from
    # np.unique): each is evaluated once per value, not once per customer
    a1 = (gammaln(r + values) - gammaln(r) + r * np.log(alpha))[at]
    a2 = (betaln(a, b + values) - betaln(a, b))[at]
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
                      -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def p_alive(model: BgNbd, x, t_x, T) -> np.ndarray:
    """P(the customer is still active | x, t_x, T)."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(x > 0, a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
    return 1.0 / (1.0 + ratio)


def expected_purchases(model: BgNbd, t: float, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: purchases expected in the next ``t`` weeks (eq. 10)."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    z = t / (alpha + T + t)
    head = (a + b + x - 1) / (a - 1)
    tail = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    return head * tail * p_alive(model, x, t_x, T)


def expected_repeat_purchases_population(model: BgNbd, t: float | np.ndarray) -> np.ndarray:
    """E[X(t)] for one new customer: the curve the fit is shown against actuals with (eq. 7)."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    t = np.asarray(t, dtype=float)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))


def _fit(negative_ll, start: np.ndarray) -> tuple[list[float], float, bool]:
    bounds = [LOG_BOUNDS] * len(start)
    result = minimize(negative_ll, start, method="L-BFGS-B", bounds=bounds)
    at_bounds = bool(np.any(np.isclose(result.x, LOG_BOUNDS[0], atol=1e-3)
                            | np.isclose(result.x, LOG_BOUNDS[1], atol=1e-3)))
    return [float(v) for v in np.exp(result.x)], -float(result.fun), at_bounds or not result.success


def fit_bgnbd(x, t_x, T) -> BgNbd:
    """Maximum-likelihood BG/NBD on log parameters (so they stay positive)."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    values, at = np.unique(x, return_inverse=True)

    def negative_ll(log_params: np.ndarray) -> float:
        r, alpha, a, b = np.exp(log_params)
        total = _bgnbd_ll(r, alpha, a, b, x, t_x, T, values, at).sum()
        return -total if np.isfinite(total) else 1e300

    scale = max(float(np.mean(T)), 1.0)
    (r, alpha, a, b), ll, at_bounds = _fit(negative_ll, np.log([1.0, scale, 1.0, 1.0]))
    return BgNbd(r, alpha, a, b, ll, at_bounds)


def gamma_gamma_log_likelihood(p: float, q: float, gamma: float, x, zbar) -> np.ndarray:
    """Each repeat buyer's log-likelihood of their mean spend (Fader & Hardie 2013, eq. 3)."""
    x, zbar = np.asarray(x, dtype=float), np.asarray(zbar, dtype=float)
    return _gamma_gamma_ll(p, q, gamma, x, zbar, *np.unique(x, return_inverse=True), np.log(x), np.log(zbar))


def _gamma_gamma_ll(p, q, gamma, x, zbar, values, at, log_x, log_zbar) -> np.ndarray:
    # as in _bgnbd_ll: the gamma functions once per distinct x; the logs of the data once per fit
    pv, px = p * values, p * x
    return ((gammaln(pv + q) - gammaln(pv) - gammaln(q))[at] + q * np.log(gamma) + (px - 1) * log_zbar
            + px * log_x - (px + q) * np.log(gamma + x * zbar))


def fit_gamma_gamma(x, zbar) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma on customers with at least one repeat purchase."""
    x, zbar = np.asarray(x, dtype=float), np.asarray(zbar, dtype=float)
    keep = (x > 0) & (zbar > 0)
    x, zbar = x[keep], zbar[keep]

    # Fit in units of the mean spend (rupiah amounts would push gamma past any fixed bound), then scale
    # back: gamma scales with the money unit, and the log-likelihood moves by -n log(scale).
    scale = float(np.mean(zbar)) if len(zbar) else 1.0
    unit = zbar / scale
    data = (x, unit, *np.unique(x, return_inverse=True), np.log(x), np.log(unit))

    def negative_ll(log_params: np.ndarray) -> float:
        p, q, gamma = np.exp(log_params)
        total = _gamma_gamma_ll(p, q, gamma, *data).sum()
        return -total if np.isfinite(total) else 1e300

    (p, q, gamma), ll, at_bounds = _fit(negative_ll, np.log([1.0, 2.0, 1.0]))
    return GammaGamma(p, q, gamma * scale, float(ll - len(zbar) * np.log(scale)), at_bounds)


def expected_spend(model: GammaGamma, x, zbar) -> np.ndarray:
    """E[Z | x, zbar]: the expected spend per future purchase; the population mean when x = 0."""
    x, zbar = np.asarray(x, dtype=float), np.asarray(zbar, dtype=float)
    p, q, gamma = model.p, model.q, model.gamma
    population = gamma * p / (q - 1) if q > 1 else float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        conditional = (gamma + x * zbar) * p / (p * x + q - 1)
    return np.where(x > 0, conditional, population)


@dataclass(frozen=True)
class Forecast:
    """Per-customer predictions for the next ``weeks`` and how they were made."""

    p_alive: np.ndarray
    purchases: np.ndarray
    spend_per_purchase: np.ndarray
    revenue: np.ndarray
    method: str  # "bgnbd+gamma-gamma" or "naive" (too little data for the models)
    reason: str
    bgnbd: BgNbd | None
    gamma_gamma: GammaGamma | None


@dataclass(frozen=True)
class Models:
    """Both fitted models, or why they are not trusted (``reason`` empty when they are)."""

    bgnbd: BgNbd | None
    gamma_gamma: GammaGamma | None
    reason: str


def fit(x, t_x, T, zbar) -> Models:
    """Fit BG/NBD and Gamma-Gamma, and say when the data is too thin or the fit did not settle."""
    x = np.asarray(x, dtype=float)
    repeaters = int(np.sum(x > 0))
    if repeaters < MIN_REPEAT_BUYERS:
        return Models(None, None, f"only {repeaters} repeat buyers (the models need {MIN_REPEAT_BUYERS})")
    bg = fit_bgnbd(x, t_x, T)
    gg = fit_gamma_gamma(x, zbar)
    if bg.at_bounds or abs(bg.a - 1) < 1e-9 or gg.at_bounds or gg.q <= 1:
        return Models(bg, gg, "the fit did not settle (a parameter at its bound)")
    return Models(bg, gg, "")


def forecast(x, t_x, T, zbar, first_spend, weeks: float = 52.0, models: Models | None = None) -> Forecast:
    """Predict with ``models`` (fitted here when not given); fall back to a naive rate when the data is
    too thin.

    The fallback: purchases = x / T x weeks (the customer's own repeat rate) times a recency-based
    P(alive) = t_x / T (1 when T is 0); spend = the customer's mean spend (the first purchase's when
    there is no repeat). It says so in ``method`` and ``reason``.
    """
    x, t_x, T, zbar, first_spend = (np.asarray(v, dtype=float) for v in (x, t_x, T, zbar, first_spend))
    if models is None:
        models = fit(x, t_x, T, zbar)
    bg, gg = models.bgnbd, models.gamma_gamma
    if models.reason or bg is None or gg is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            alive = np.where(T > 0, np.clip(t_x / T, 0, 1), 1.0)
            purchases = np.where(T > 0, x / T * weeks, 0.0) * alive
        spend = np.where(x > 0, zbar, first_spend)
        return Forecast(alive, purchases, spend, purchases * spend, "naive", models.reason, bg, gg)
    alive = p_alive(bg, x, t_x, T)
    purchases = expected_purchases(bg, weeks, x, t_x, T)
    spend = expected_spend(gg, x, zbar)
    return Forecast(alive, purchases, spend, purchases * spend, "bgnbd+gamma-gamma", "", bg, gg)
