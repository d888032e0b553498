"""BG/NBD and Gamma-Gamma: formulas against hand-computed cases, parameter recovery from data simulated
with known parameters, the naive fallback, and `smsd-crm analytics clv` on a CSV."""

from __future__ import annotations

import math
import subprocess
from datetime import date, timedelta

import numpy as np
import pytest

from smsd_crm.analytics.clv import (
    BgNbd,
    GammaGamma,
    bgnbd_log_likelihood,
    expected_purchases,
    expected_repeat_purchases_population,
    expected_spend,
    fit_bgnbd,
    fit_gamma_gamma,
    forecast,
    gamma_gamma_log_likelihood,
    p_alive,
)
from smsd_crm.analytics.transactions import parse_transactions, summarize

from .conftest import SMSD_CRM


def test_bgnbd_likelihood_by_hand():
    # x = 0: L = (alpha / (alpha + T))^r; r = alpha = T = 1 gives 1/2.
    assert bgnbd_log_likelihood(1, 1, 1, 2, [0], [0], [1])[0] == pytest.approx(-math.log(2))
    # x = 1, t_x = 1, T = 2, r = alpha = a = 1, b = 2:
    # B(1,3)/B(1,2) * 1/3^2 + B(2,2)/B(1,2) * 1/2^2 = 2/27 + 1/12 = 17/108
    assert bgnbd_log_likelihood(1, 1, 1, 2, [1], [1], [2])[0] == pytest.approx(math.log(17 / 108))


def test_p_alive_by_hand():
    model = BgNbd(r=1, alpha=1, a=1, b=2, log_likelihood=0)
    # 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x)) = 1 / (1 + 1/2 * (3/2)^2) = 8/17,
    # which is also the first term's share of the likelihood above: (2/27) / (17/108).
    assert p_alive(model, [1], [1], [2])[0] == pytest.approx(8 / 17)
    assert p_alive(model, [0], [0], [5])[0] == 1.0  # no repeat purchase: never seen to drop out


def test_expected_purchases_by_hand():
    # a=2, b=3, r=alpha=1, x=0, T=1, t=1: 4 * (1 - 2/3 * 2F1(1, 3; 4; 1/3)), and
    # 2F1(1, 3; 4; z) = 3/z^3 * (-ln(1-z) - z - z^2/2) (sum of z^k * 3/(k+3)).
    z = 1 / 3
    f = 3 / z**3 * (-math.log(1 - z) - z - z**2 / 2)
    expected = 4 * (1 - 2 / 3 * f)
    model = BgNbd(r=1, alpha=1, a=2, b=3, log_likelihood=0)
    assert expected_purchases(model, 1, [0], [0], [1])[0] == pytest.approx(expected, rel=1e-9)
    assert expected == pytest.approx(0.4195367, rel=1e-6)
    # For a customer just acquired (x = 0, T = 0) it equals the population curve E[X(t)].
    assert expected_purchases(model, 10, [0], [0], [0])[0] == \
        pytest.approx(expected_repeat_purchases_population(model, 10))


def test_gamma_gamma_by_hand():
    # x=1, zbar=1, p=q=gamma=1: Γ(2)/(Γ(1)Γ(1)) * 1 * 1 * 1 / 2^2 = 1/4
    assert gamma_gamma_log_likelihood(1, 1, 1, [1], [1])[0] == pytest.approx(math.log(1 / 4))
    model = GammaGamma(p=2, q=3, gamma=4, log_likelihood=0)
    assert expected_spend(model, [2], [10])[0] == pytest.approx((4 + 20) * 2 / (4 + 3 - 1))  # = 8
    assert expected_spend(model, [0], [0])[0] == pytest.approx(4 * 2 / (3 - 1))  # the population mean


def simulate_bgnbd(rng, n, r, alpha, a, b, weeks=(52, 104)):
    """Purchase histories from the BG/NBD story: Poisson purchases, dropout after each with prob p."""
    lam = rng.gamma(r, 1 / alpha, n)
    drop = rng.beta(a, b, n)
    T = rng.uniform(*weeks, n)
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T[i]:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < drop[i]:
                break
    return x, t_x, T


def test_bgnbd_recovers_known_parameters():
    rng = np.random.default_rng(20261123)
    truth = {"r": 0.5, "alpha": 4.0, "a": 0.8, "b": 2.5}
    x, t_x, T = simulate_bgnbd(rng, 6000, **truth)
    fit = fit_bgnbd(x, t_x, T)
    assert not fit.at_bounds
    for name, value in truth.items():
        assert getattr(fit, name) == pytest.approx(value, rel=0.2), (name, fit)
    # the fitted likelihood is at least as good as the truth's
    assert fit.log_likelihood >= bgnbd_log_likelihood(*truth.values(), x, t_x, T).sum() - 1e-6


def test_gamma_gamma_recovers_known_parameters():
    rng = np.random.default_rng(7)
    p, q, gamma, n = 6.0, 4.0, 15.0, 5000
    nu = rng.gamma(q, 1 / gamma, n)
    x = rng.integers(1, 12, n)
    zbar = np.array([rng.gamma(p, 1 / nu[i], x[i]).mean() for i in range(n)])
    fit = fit_gamma_gamma(x, zbar)
    assert not fit.at_bounds
    assert fit.p == pytest.approx(p, rel=0.2) and fit.q == pytest.approx(q, rel=0.25)
    assert fit.gamma == pytest.approx(gamma, rel=0.3)


def test_thin_data_falls_back_and_says_so():
    f = forecast([0, 1, 2], [0, 4, 10], [20, 20, 20], [0, 50, 30], [10, 20, 30], weeks=52)
    assert f.method == "naive" and "only 2 repeat buyers" in f.reason
    assert f.purchases.tolist() == pytest.approx([0, 1 / 20 * 52 * 4 / 20, 2 / 20 * 52 * 10 / 20])
    assert f.spend_per_purchase.tolist() == [10, 50, 30]


def test_transactions_summary_merges_same_day_and_splits_at_the_calibration_end():
    rows, errors = parse_transactions(
        "customer,date,amount\nA,2026-01-01,10\nA,2026-01-01,5\nA,2026-01-15,20\nA,2026-02-12,40\n"
        "B,2026-01-08,7\nA,2026-03-01,1\nC,2026-03-01,9\n")
    assert errors == []
    s = summarize(rows, date(2026, 2, 12))
    assert s.customers == ["A", "B"]  # C first bought after the end
    assert s.x.tolist() == [2, 0] and s.t_x.tolist() == [6, 0] and s.T.tolist() == [6, 5]
    assert s.zbar.tolist() == [30, 0] and s.first_spend.tolist() == [15, 7] and s.holdout.tolist() == [1, 0]


def test_broken_transaction_files_get_line_numbers():
    _, errors = parse_transactions("customer,date,amount\nA,23/11/2026,10\nB,2026-01-01,sepuluh\n,2026-01-01,1\n"
                                   "C,2026-01-01,-5\n")
    assert errors == ["line 2: date '23/11/2026' is not a date like 2026-11-23",
                      "line 3: amount 'sepuluh' is not a number", "line 4: the customer is empty",
                      "line 5: amount '-5' must be zero or more"]
    assert parse_transactions("nama,tanggal\n")[1][0].startswith("line 1: unknown column 'nama'")


def test_analytics_clv_command(tmp_path):
    rng = np.random.default_rng(3)
    x, t_x, T = simulate_bgnbd(rng, 400, 0.6, 3.0, 0.7, 2.0, weeks=(60, 60))
    start = date(2025, 1, 1)
    lines = ["customer,date,amount"]
    for i in range(len(x)):
        first = start + timedelta(days=int((60 - T[i]) * 7))
        lines.append(f"c{i},{first},{rng.gamma(5, 4):.0f}")
        for k in range(int(x[i])):  # spread the repeats up to t_x; the last one at t_x
            when = first + timedelta(days=int(round(t_x[i] * 7 * (k + 1) / x[i])))
            lines.append(f"c{i},{when},{rng.gamma(5, 4):.0f}")
    path = tmp_path / "transactions.csv"
    path.write_text("\n".join(lines) + "\n")
    out = subprocess.run([SMSD_CRM, "analytics", "clv", str(path), "--calibration-end", "2026-02-25"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    comments = [line for line in out.stdout.splitlines() if line.startswith("#")]
    assert "method: bgnbd+gamma-gamma" in comments[1]
    assert comments[2].startswith("# BG/NBD: r=") and "log-likelihood=-" in comments[2]
    assert comments[3].startswith("# Gamma-Gamma: p=")
    table = [line.split(",") for line in out.stdout.splitlines() if not line.startswith("#")]
    assert table[0][:6] == ["customer", "x", "t_x", "T", "mean_spend", "p_alive"] and len(table) == 401
    assert all(0 <= float(row[5]) <= 1 and float(row[6]) >= 0 for row in table[1:])
    bad = subprocess.run([SMSD_CRM, "analytics", "clv", str(tmp_path / "missing.csv")], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 1 and "cannot read" in bad.stderr and "Traceback" not in bad.stderr
