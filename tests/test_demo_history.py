"""The seeded store history: deterministic, the four classes in their shares, seasons, consistent
totals, loaded into a real SQLite file by `smsd-crm seed-demo`, never over a shop's real data."""

from __future__ import annotations

import subprocess
from collections import Counter
from datetime import date, datetime

from smsd_crm.demo.history import LEBARAN, generate

from .conftest import SMSD_CRM, query

PRODUCTS = [dict(id=i + 1, code=code, name=name, category=cat, price=price, cost=int(price * 0.9))
            for i, (code, name, cat, price) in enumerate([
                ("B01", "Beras 5kg", "Sembako", 78000), ("T01", "Telur 1kg", "Sembako", 28000),
                ("M01", "Minyak 2L", "Sembako", 38000), ("I01", "Mi instan", "Makanan", 3500),
                ("G01", "Gula 1kg", "Sembako", 18000), ("K01", "Kopi", "Minuman", 2000),
                ("S01", "Sabun", "Kebersihan", 4000), ("P01", "Pasta gigi", "Kebersihan", 12000)])]
END = date(2026, 11, 23)


def test_same_seed_same_history_and_another_seed_another():
    a = generate(PRODUCTS, customers=150, years=1, end=END, seed=5)
    b = generate(PRODUCTS, customers=150, years=1, end=END, seed=5)
    c = generate(PRODUCTS, customers=150, years=1, end=END, seed=6)
    assert a.orders == b.orders and a.sale_lines == b.sale_lines and a.complaints == b.complaints
    assert a.orders != c.orders


def test_classes_seasons_and_totals():
    h = generate(PRODUCTS, customers=3000, years=3, end=END, seed=1)
    shares = Counter(h.classes.values())
    assert abs(shares["regular"] / 3000 - 0.25) < 0.03 and abs(shares["switcher"] / 3000 - 0.15) < 0.03
    # every customer bought at least once; switchers not in their last 180 days
    buyers = {o[0] for o in h.orders} | {s[1] for s in h.sales if s[1]}
    assert len(buyers) > 2900
    last = {}
    for phone, at in [(o[0], o[3]) for o in h.orders] + [(s[1], s[2]) for s in h.sales if s[1]]:
        last[phone] = max(last.get(phone, ""), at)
    for phone, kind in h.classes.items():
        if kind == "switcher" and phone in last:
            assert (END - datetime.fromisoformat(last[phone]).date()).days > 180
    # the ten days before Lebaran are busier than the same weekdays a month later
    per_day = Counter(datetime.fromisoformat(at).date() for at in [o[3] for o in h.orders] + [s[2] for s in h.sales])
    lebaran = LEBARAN[2025]
    before = sum(per_day[date.fromordinal(lebaran.toordinal() - k)]
                 for k in range(1, 11))
    after = sum(per_day[date.fromordinal(lebaran.toordinal() + 30 + k)] for k in range(1, 11))
    assert before > 1.2 * after
    # an order's total is its lines less its discount; deal seekers use promos far more often
    lines = Counter()
    for order_id, _, _, _, _, qty, price, _ in h.order_lines:
        lines[order_id] += qty * price
    for i, (phone, state, total, _, _, discount, promo) in enumerate(h.orders, start=1):
        assert total == lines[i] - discount and (discount > 0) == (promo is not None)
    promo_share = {k: [] for k in ("regular", "deal_seeker")}
    for phone, _, _, _, _, _, promo in h.orders:
        if h.classes[phone] in promo_share:
            promo_share[h.classes[phone]].append(promo is not None)
    assert sum(promo_share["deal_seeker"]) / len(promo_share["deal_seeker"]) > 0.5
    assert sum(promo_share["regular"]) / len(promo_share["regular"]) < 0.2
    # complaints have answer and close times in order; 4-8% of customers opted out
    for _, state, opened, answered, closed in h.complaints:
        assert answered is None or opened < answered
        assert (state == "closed") == (closed is not None) and (closed is None or answered < closed)
    assert 0.03 < len(h.optouts) / 3000 < 0.08


def test_seed_demo_command_fills_an_empty_database_only(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("database: {path: data/shop.sqlite3}\nplugins_dir: null\n")
    sample = tmp_path.parent / "products.csv"
    sample.write_text("code,name,category,price,cost\nB01,Beras 5kg,Sembako,78000,71000\n"
                      "T01,Telur 1kg,Sembako,28000,25000\nI01,Mi instan,Makanan,3500,3000\n")
    subprocess.run([SMSD_CRM, "catalog", "import", str(sample), "-c", str(config)], check=True, timeout=60,
                   capture_output=True)
    out = subprocess.run([SMSD_CRM, "seed-demo", "--years", "1", "--customers", "200", "-c", str(config)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    db = tmp_path / "data" / "shop.sqlite3"
    orders, lines = query(db, "SELECT COUNT(*), (SELECT COUNT(*) FROM order_lines) FROM orders")[0]
    assert f"{orders:,} orders" in out.stdout and f"{lines:,} order_lines" in out.stdout and orders > 100
    assert query(db, "SELECT COUNT(*) FROM customers")[0][0] == 200
    assert query(db, "SELECT COUNT(*) FROM orders o WHERE total != (SELECT SUM(quantity * price) FROM order_lines "
                     "WHERE order_id = o.id) - discount") == [(0,)]
    again = subprocess.run([SMSD_CRM, "seed-demo", "--customers", "200", "-c", str(config)],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "already holds orders or sales" in again.stderr
    assert query(db, "SELECT COUNT(*) FROM orders")[0][0] == orders  # nothing added
