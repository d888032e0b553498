"""`smsd-crm demo` with the shipped config.yaml: demo data, generated logins, the banner, an SMS through
the emulated modem, and a login with the printed password."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from .conftest import sim_send, wait_until
from .test_web_auth import client, log_in

ROOT = Path(__file__).parent.parent


async def test_demo_prints_where_to_look_and_answers_an_sms(tmp_path, daemons):
    config = tmp_path / "config.yaml"
    text = (ROOT / "config.yaml").read_text()
    config.write_text(text + "\nweb:\n  port: 0\n")
    log = tmp_path / "demo.log"
    await daemons(config, log, "demo")
    banner = await wait_until(lambda: "Stop with Ctrl-C." in (t := log.read_text()) and t, 30, "the banner")
    base = re.search(r"web pages:\s+(http://127\.0\.0\.1:\d+)/", banner).group(1)
    assert f"phone simulator: {base}/simulator" in banner and "api/openapi.json" in banner
    assert f"dashboards:      {base}/dash" in banner
    assert f"JSON API:        {base}/api " in banner  # the owner's page, not a 401 from the JSON
    logins = tmp_path / "var" / "demo-logins.txt"
    assert stat.S_IMODE(logins.stat().st_mode) == 0o600
    owner_password = re.search(r"pemilik \(owner\): (\S+)", logins.read_text()).group(1)
    assert owner_password in banner  # printed once on the terminal for the person running the demo

    code, out, err = await sim_send(config, "081234567890", "PESAN beras 2, minyak goreng 1")
    assert code == 0 and (m := re.match(r"Pesanan #(\d+): 2x Beras Premium 5kg", out)), (out, err)
    async with client() as s:
        assert (await log_in(s, base, "pemilik", owner_password)).status == 302
        page = await (await s.get(f"{base}/customers")).text()
        assert "Siti Aminah" in page and "Rina Wulandari" in page  # the demo customers
        assert f'id="order-{m.group(1)}"' in await (await s.get(f"{base}/orders")).text()
    # three years of generated history come with it, so the dashboards have something to show
    assert re.search(r"demo history: 8\d\d customers, [\d]+ orders, [\d]+ order_lines", log.read_text())
    log_text = log.read_text()
    assert log_text.count(owner_password) == 1  # the banner only; never in a log line
