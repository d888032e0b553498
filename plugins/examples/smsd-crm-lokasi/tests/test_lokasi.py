"""The example package plugin, tested the way a plugin author would: a shop with the plugin in it,
texted as a customer, through smsd-crm's own pipeline (``smsd_crm.testing``)."""

from __future__ import annotations

import smsd_crm_lokasi.plugin as lokasi

from smsd_crm.testing import routed_shop, running_shop

CONFIG = """
store: {name: Toko Uji}
plugins:
  lokasi:
    landmark: depan masjid
    map_url: "https://peta.example/t"
"""
PLUGINS = {"lokasi": lokasi}
CUSTOMER = "0812 3456 7890"


async def test_lokasi_answers_with_address_landmark_and_map(tmp_path):
    async with routed_shop(tmp_path, CONFIG, plugins=PLUGINS) as shop:
        reply = await shop.send(CUSTOMER, "LOKASI")
    assert reply.plugin == "lokasi"
    assert reply.text == "Toko Uji: Jl. Contoh No. 1 (depan masjid). Peta: https://peta.example/t"


async def test_customers_words_any_case_and_english(tmp_path):
    async with routed_shop(tmp_path, CONFIG, plugins=PLUGINS) as shop:
        assert (await shop.send(CUSTOMER, "alamat")).plugin == "lokasi"
        assert (await shop.text(CUSTOMER, "location")).endswith("Map: https://peta.example/t")
        assert (await shop.text("0812 3456 7891", "LOCATION?")).endswith("Map: https://peta.example/t")


async def test_other_messages_are_left_to_other_plugins(tmp_path):
    async with routed_shop(tmp_path, CONFIG, plugins=PLUGINS) as shop:
        reply = await shop.send(CUSTOMER, "DAFTAR Budi#Jl. Mawar 5")
        assert reply.plugin == "registration" and reply.text.startswith("Selamat datang Budi")
        assert await shop.rows("SELECT name FROM customers") == [{"name": "Budi"}]


async def test_the_same_question_twice_is_answered_once(tmp_path):
    async with routed_shop(tmp_path, CONFIG, plugins=PLUGINS) as shop:
        assert (await shop.send(CUSTOMER, "LOKASI")).text is not None
        again = await shop.send(CUSTOMER, "lokasi")  # the same text a moment later: no second SMS to pay for
        assert again.text is None and again.why == "repeated"


async def test_configured_without_a_landmark(tmp_path):
    async with routed_shop(tmp_path, "plugins: {lokasi: {address: Jl. Melati 9}}", plugins=PLUGINS) as shop:
        assert await shop.text(CUSTOMER, "LOKASI") == "Toko Uji: Jl. Melati 9"


async def test_answered_over_a_modem(tmp_path):
    # The whole daemon on an emulated modem: the SMS arrives over AT commands, the reply is read off the air.
    async with running_shop(tmp_path, CONFIG, plugins=PLUGINS) as shop:
        assert await shop.text(CUSTOMER, "lokasi") == ("Toko Uji: Jl. Contoh No. 1 (depan masjid). "
                                                       "Peta: https://peta.example/t")


async def test_inside_an_open_complaint_only_the_keyword_alone_leaves_it(tmp_path):
    async with routed_shop(tmp_path, CONFIG, plugins=PLUGINS) as shop:
        assert (await shop.send(CUSTOMER, "KOMPLAIN telur pecah")).plugin == "complaint"
        # more words after LOKASI: more about the complaint, not a question for this plugin
        assert (await shop.send(CUSTOMER, "lokasi kurirnya nyasar kak, telurnya pecah semua")).plugin == "complaint"
        assert (await shop.send(CUSTOMER, "LOKASI")).plugin == "lokasi"
        notes = await shop.rows("SELECT text FROM complaint_notes ORDER BY at")
        assert any("nyasar" in n["text"] for n in notes)
