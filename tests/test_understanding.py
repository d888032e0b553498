"""Issue 12: the reader as pure functions: cleaning, items and units, sizes, intent, language, config words."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsd_crm.config import ConfigError, Settings, parse_config
from smsd_crm.csv_io.catalog import parse_products
from smsd_crm.models import Keyword, Product
from smsd_crm.plugins import PluginHost
from smsd_crm.understanding import catalog_match
from smsd_crm.understanding.intent import Reader
from smsd_crm.understanding.items import Measure, parse_items
from smsd_crm.understanding.lexicon import Lexicon
from smsd_crm.understanding.normalize import clean, words
from smsd_crm.understanding.sizes import AskSize, Packs, choose, product_size

CATALOGUE = Path(__file__).parent.parent / "smsd_crm" / "demo" / "data" / "products.csv"
LEX = Lexicon()


@pytest.fixture(scope="module")
def products() -> list[Product]:
    rows, errors = parse_products(CATALOGUE.read_text())
    assert not errors
    return [Product(i + 1, r.code, r.name, tuple(r.aliases), r.category, r.unit, r.price, r.cost, r.stock)
            for i, r in enumerate(rows)]


@pytest.fixture(scope="module")
def reader() -> Reader:
    host = PluginHost.load(Settings(plugins_dir=None), third_party=False)
    return Reader(host.keyword_table, LEX)


def order_lines(text: str, products: list[Product]) -> list[tuple[str, int]] | str:
    """What the order plugin makes of ``text``: lines, or why not (the same steps as the plugin)."""
    keep = frozenset(w for p in products for n in (p.code, p.name, *p.aliases) for w in n.lower().split())
    lines = []
    for item in parse_items(text, LEX, keep):
        product, suggestions = catalog_match.resolve(item.query, products)
        if product is None:
            return "ask" if suggestions else f"unknown {item.query}"
        quantity = item.quantity
        if item.size is not None:
            pack = choose(item.size, product, products, LEX)
            if not isinstance(pack, Packs) or pack.quantity != 1:
                return "ask size"
            product = pack.product
        if item.measure is not None:
            packs = choose(item.measure, product, products, LEX)
            if isinstance(packs, AskSize):
                return "ask size"
            product, quantity = packs.product, packs.quantity
        if quantity is None or quantity <= 0:
            return "bad quantity"
        lines.append((product.code, quantity))
    return lines or "usage"


# ------------------------------------------------------------------ cleaning

@pytest.mark.parametrize("raw, cleaned", [
    ("ＰＥＳＡＮ gula 1 🙏", "PESAN gula 1"),
    ("P E S A N beras 2", "PESAN beras 2"),
    ("pesan\u200b gula\u00ad 2\ufeff", "pesan gula 2"),
    ("  makasih   kak 😊👍 ", "makasih kak"),
    ("DAFTAR Budi\nJl. Mawar 5", "DAFTAR Budi\nJl. Mawar 5"),
])
def test_clean_drops_what_carries_no_meaning(raw, cleaned):
    assert clean(raw) == cleaned


def test_words_fold_stretched_letters_and_keep_their_place():
    ws = words(clean("Makasihhh kaaak, PESAN"))
    assert [w.norm for w in ws] == ["makasih", "kak", "pesan"]
    assert [w.raw for w in ws] == ["Makasihhh", "kaaak", "PESAN"]


# ------------------------------------------------------------------ items, units and sizes

@pytest.mark.parametrize("text, lines", [
    ("minyak 1 liter", [("M02", 1)]),          # was 1x M01 + 1x M02
    ("minyak goreng 2 liter", [("M01", 1)]),   # an exact size wins over 2 x 1 L
    ("gula 2 kg", [("G01", 2)]),
    ("telur 2 kg", [("T01", 2)]),              # was "Barang tidak dikenal: kg"
    ("telor sekilo", [("T01", 1)]),
    ("telur se-kilo", [("T01", 1)]),
    ("2 karung beras", [("B01", 2)]),
    ("beras 1 karung", [("B01", 1)]),
    ("beras 5 kg", [("B01", 1)]),
    ("beras 10 kg", [("B01", 2)]),             # Beras Medium is another product, not another size
    ("gula 1 🙏", [("G01", 1)]),                # was "Barang tidak dikenal: 🙏"
    ("gula 2 kg ya kak", [("G01", 2)]),
    ("odol 2 sama sampo 1", [("P03", 2), ("P02", 1)]),
    ("beras 1 dan telur 1kg", [("B01", 1), ("T01", 1)]),
    ("teh 2 kotak sama gula 1kg", [("H01", 2), ("G01", 1)]),
    ("gas 1 tabung ya kak", [("L01", 1)]),
    ("1 galon", [("A02", 1)]),
    ("galon 1", [("A02", 1)]),
    ("dua indomie goreng", [("I01", 2)]),
    ("minyak goreng 2L 3", [("M01", 3)]),      # a size in the name, then the quantity
    ("B01*1;G01*2", [("B01", 1), ("G01", 2)]),
    ("#B01#2#G02#1", [("B01", 2), ("G02", 1)]),  # the README example (G02 is in the demo catalogue)
    ("sugar 1", [("G01", 1)]),                 # English grocery words
    ("rice 2", [("B01", 2)]),
    ("gula 1\nminyak 1", [("G01", 1), ("M01", 1)]),
    ("minyak 6 liter", "ask size"),            # 3 x 2 L or 6 x 1 L: ask, do not guess
    ("gula 2 liter", "ask size"),              # sugar is not sold by the litre
    ("telur setengah kilo", "ask size"),
    ("susu 1", "ask"),
    ("liter", "usage"),                        # was: an order for oil
    ("rokok 1 bks", "unknown rokok"),
])
def test_items_with_units_count_the_catalogues_packs(text, lines, products):
    assert order_lines(text, products) == lines


def test_sizes_come_from_the_names(products):
    by_code = {p.code: p for p in products}
    assert product_size(by_code["M01"], LEX) == Measure("ml", 2000)
    assert product_size(by_code["C04"], LEX) == Measure("g", 250)      # 1/4kg
    assert product_size(by_code["A02"], LEX) == Measure("ml", 19000)
    assert product_size(by_code["R01"], LEX) is None                    # Roti Tawar: a count
    assert choose(Measure("g", 500), by_code["C04"], products, LEX) == Packs(by_code["C04"], 2)


def test_a_unit_word_never_becomes_an_item():
    assert [i.query for i in parse_items("gula 2 liter")] == ["gula"]
    assert parse_items("kilo") == []


# ------------------------------------------------------------------ intent

@pytest.mark.parametrize("text, command", [
    ("mau pesan gula 2 kg ya kak", "order"),
    ("tolong kirim beras 1 karung", "order"),
    ("psn gula 2", "order"),
    ("kak mau beli odol 2 sama sampo 1", "order"),
    ("susu uht 1", "order"),
    ("jangan kirim promo lagi", "stop"),
    ("tdk usah kirim promo2 lg ya", "stop"),
    ("jgn sms promo lg", "stop"),
    ("Assalamualaikum", "greeting"),
    ("Selamat pagi", "greeting"),
    ("P", "greeting"),
    ("Halo kak, selamat pagi", "greeting"),
    ("Terima kasih", "thanks"),
    ("ok", "thanks"),
    ("makasih ya kak 🙏", "thanks"),
    ("cek poin", "balance"),
    ("cek poin sy", "balance"),
    ("poin saya brp", "balance"),
    ("ada kecap?", "price"),
    ("brp harga gula sekarang", "price"),
    ("HARGA gual", "price"),
    ("BATAL pesanan 1", "cancel"),
    ("gak jadi kak, batal aja", "cancel"),
    ("pesanan sy sdh dikirim?", "status"),
    ("cek status pesanan", "status"),
    ("gimana cara pesannya kak?", "help"),
    ("Alamat toko di mana kak", "info"),
    ("tutup jam brp kak", "info"),
    ("ganti alamat ke Perum Puri Indah B7", "update"),
    ("mau daftar kak, nama Eko alamat Jl. Beringin 3", "register"),
    ("Kak, gas yg kemarin kok cepet habis ya, kayaknya ga penuh", "complain"),
    ("KOMPLEN telur pecah", "complain"),      # a keyword with a typo, outside a dialogue
])
def test_free_wording(reader, products, text, command):
    assert reader.read(text, products).command == command


@pytest.mark.parametrize("text, args", [
    ("brp harga gula sekarang", "gula"),
    ("ada kecap?", "kecap"),
    ("harga teluur brp", "teluur"),
    ("cek harga galon", "galon"),
    ("tlg kirim gas 1 tabung ya kak", "gas 1 tabung ya kak"),
    ("ganti alamat ke Perum Puri Indah B7", "alamat ke Perum Puri Indah B7"),
    ("mau daftar kak, nama Eko alamat Jl. Beringin 3", "nama Eko alamat Jl. Beringin 3"),
    ("BATAL pesanan 12", "12"),
    ("batal yg gula 2 kresek", ""),                     # "2" is a quantity, not an order number
    ("Where is my order? It's been 2 hours", ""),       # a time
])
def test_arguments_are_what_the_command_works_on(reader, products, text, args):
    assert reader.read(text, products).args == args


@pytest.mark.parametrize("text", [
    "Pesanan saya kemarin belum sampai juga", "Pesanan td siang kak, dianter mas nya",
    "Info dong, tadi yg antar siapa ya", "Info kak, sy beli 2 kg dua2nya basah",
    "Harga segitu kok kualitasnya begini", "Harga mahal tp kemasan jelek kak",
    "Stop kirim yg itu", "Stop dulu jual roti yg itu kak", "PESEN lagi gak deh", "Batal aja sambalnya, tuker sama kecap ya kak",
    "Daftar yg kurang: sampo 1 renceng isinya cuma 10", "Mulai skrg sy cek dulu tanggalnya",
    "Daftar belanjaan kemarin: gula 2, minyak 1",
])
def test_inside_a_dialogue_anything_but_an_exact_command_joins_it(reader, products, text):
    r = reader.read(text, products, in_dialogue=True)
    assert (r.command, r.how) == (None, "dialogue")


@pytest.mark.parametrize("text", ["jgn kirim promo lg", "stop promo ya kak", "tidak usah kirim promo lagi",
                                  "please no more promo"])
def test_an_opt_out_in_so_many_words_leaves_a_dialogue(reader, products, text):
    """During an open complaint "jgn kirim promo lg" was filed as a note on the ticket: the opt-out lost."""
    assert reader.read(text, products, in_dialogue=True).command == "stop"


def test_thanks_inside_a_dialogue_cost_no_sms(reader, products):
    assert reader.read("ok makasih kak", products, in_dialogue=True).command == "thanks"


@pytest.mark.parametrize("text, command", [
    ("STOP", "stop"), ("berhenti ya", "stop"), ("HARGA gula", "price"), ("BATAL 12", "cancel"),
    ("PESAN gula 2", "order"), ("POIN", "balance"), ("INFO", "info"), ("KOMPLAIN roti basi", "complain"),
])
def test_an_exact_command_leaves_a_dialogue(reader, products, text, command):
    assert reader.read(text, products, in_dialogue=True).command == command


@pytest.mark.parametrize("text, language", [
    ("Stop", None), ("Stop ya", "id"), ("STOP PROMO ya kak", "id"), ("my points?", "en"),
    ("order rice 1", "en"), ("mau order migor 1", "id"), ("register Ann#Main Street 5", "en"),
    ("cek status pesanan", "id"), ("please stop sending promo", "en"),
    ("barangnya kosong katanya, no resi 88231234", "id"), ("no rumah 12", None), ("no thanks", "en"),
    ("POINTS?", "en"), ("points ?", "en"), ("HELP?", "en"), ("POIN?", "id"),
])
def test_the_language_follows_the_customers_words(reader, products, text, language):
    assert reader.read(text, products).language == language


def test_an_owner_keyword_counts_only_as_the_first_word(reader, products):
    # the PIN is masked only when PROMO is the first word; never read it from further on
    host = PluginHost.load(parse_config("plugins: {owner: {numbers: ['0811'], pin: '4321'}}\n", Path("x.yaml")),
                           third_party=False)
    owner_reader = Reader(host.keyword_table, LEX)
    assert owner_reader.read("PROMO 4321 diskon", products).command == "promo"
    assert owner_reader.read("halo PROMO 4321 diskon", products).command != "promo"


# ------------------------------------------------------------------ the shop's own words

def test_a_shop_adds_words_in_config(products):
    settings = parse_config("""
texting:
  abbreviations: {bsk: besok}
  synonyms: {gulaku: gula}
  units: {kresek: bungkus, kilogram: kg}
  fillers: [gan]
  greetings: [horas]
  thanks: [suwun]
  phrases: {order: [nitip]}
""", Path("config.yaml"))
    lex = settings.texting.lexicon()
    host = PluginHost.load(Settings(plugins_dir=None), third_party=False)
    shop = Reader(host.keyword_table, lex)
    assert shop.read("nitip gulaku 2 kresek gan", products).command == "order"
    assert [(i.query, i.quantity) for i in parse_items("gulaku 2 kresek gan", lex)] == [("gula", 2)]
    assert parse_items("gula 3 kilogram", lex)[0].measure == Measure("g", 3000)
    assert shop.read("horas", products).command == "greeting"
    assert shop.read("suwun", products).command == "thanks"
    assert Reader(host.keyword_table, LEX).read("horas", products).command is None


def test_an_unknown_unit_in_config_is_a_clear_error():
    with pytest.raises(ConfigError, match="texting.units.*'kresek'.*not a known unit"):
        parse_config("texting: {units: {kresek: plastik}}\n", Path("config.yaml"))


# ------------------------------------------------------------------ what a breaker found (issue 12 review)

@pytest.mark.parametrize("text", [
    "PESAN gula 1/0", "pesan gula 0/0", "pesan minyak 1/0 liter", "pesan gula " + "9" * 400,
    "gula " + "9" * 5000 + " kg", "cek " * 1000, "brp " + " ".join(f"kata{i}" for i in range(200)),
    "🙏" * 2000, "x" * 5000,
])
def test_hostile_text_is_read_without_an_error(reader, products, text):
    reader.read(text, products)  # no exception; the daemon answers it like any other


@pytest.mark.parametrize("text, lines", [
    ("beras 2-3 karung", "bad quantity"), ("gula 2-3", "bad quantity"), ("gula 1/0", "bad quantity"),
    ("kopi 1 kg", "ask size"), ("kopi 20 g", "ask size"), ("garam 500 g", [("C03", 2)]), ("gas 12 kg", "ask size"),
    ("teh celup isi 25", [("H01", 1)]), ("teh celup isi 25 2", [("H01", 2)]),
    ("gula dua belas", [("G01", 12)]), ("gula dua puluh", [("G01", 20)]),
    ("3 minyak goreng 1L", [("M02", 3)]),
])
def test_quantities_a_breaker_tried(text, lines, products):
    got = order_lines(text, products)
    if lines == "bad quantity":
        assert got == "bad quantity" or (isinstance(got, list) and not got)
    else:
        assert got == lines


@pytest.mark.parametrize("text, command", [
    ("stok gula ada?", "price"), ("Laporan kak, gas sy bocor", "complain"),
    ("Promonya jangan dikirim lagi kak", "stop"), ("jangan lupa kirim promo ya", None),
    ("Gak jadi batal kak, tetap kirim ya", None), ("pesanan saya jangan batal ya", None),
    ("sy ga di rumah jadi titip tetangga ya", None), ("Stop pesanan", None),
    ("mulai besok saya pesan tiap minggu", None), ("kalau beli gula 2 berapa?", "price"),
    ("Sy sdh pesan gula 2 td pagi", None), ("daftar harga dong kak", None),
    ("saya sudah daftar kemarin, kok poin ga nambah", None), ("ganti nama? ga usah kak", None),
    ("alamat baru saya nanti saya kabari", None), ("👍", "thanks"),
    ("Kak barangnya udh nyampe, makasih ya", "thanks"), ("hello, what time do you open?", "info"),
    ("sudah cukup sms promonya kak, makasih", "stop"), ("tolong dibatalkan ya kak pesanannya", "cancel"),
])
def test_sentences_that_must_not_change_anything_else(reader, products, text, command):
    got = reader.read(text, products).command
    if command is None:
        assert got not in ("order", "cancel", "stop", "start", "register", "update"), got
    else:
        assert got == command


def test_a_name_change_in_free_wording_keeps_only_the_name(reader, products):
    from smsd_crm.understanding.fields import parse_update
    reading = reader.read("Ganti nama sy jd Siti Rahma", products)
    assert reading.command == "update" and parse_update(reading.args) == ("name", "Siti Rahma")


@pytest.mark.parametrize("text, keyword", [
    ("ＬＡＰＯＲＡＮ ９７５３１０", "LAPORAN"), ("LAPORAN #975310", "LAPORAN"), ("LAPORAN 9\u200b75310", "LAPORAN"),
    ("LAPORAN+975310", "LAPORAN"), ("LAPORAN \u0669\u0667\u0665\u0663\u0661\u0660", "LAPORAN"),
])
def test_the_owner_pin_reaches_the_plugin_written_plainly(text, keyword):
    # else the owner's right PIN, typed oddly, counts as a wrong one and locks the owner out
    from smsd_crm.understanding.intent import owner_arguments
    assert owner_arguments(text, keyword) == "975310"


def test_a_promo_keeps_its_text_as_typed():
    from smsd_crm.understanding.intent import owner_arguments
    assert owner_arguments("PROMO 975310 Diskon 🎉 minyak!", "PROMO") == "975310 Diskon 🎉 minyak!"


@pytest.mark.parametrize("text", [
    "jangan kirim gula 2 dulu", "tidak usah pesan minyak 1", "jgn pesenin gula 2", "don't order sugar 2",
    "I ordered rice 2 yesterday", "sy ga jadi beli 2 kak, 1 aja", "kmrn mau batal 2 pesanan tp ga jadi",
    "jangan stop kirim promonya kak", "promo nya jangan dihentikan", "did I unsubscribe?",
    "daftarnya kemarin kan?", "kemarin sy sdh ganti alamat ke Jl. Kenari 4", "batal beli 2 aja deh, jadinya 3",
])
def test_negations_past_and_questions_change_nothing(reader, products, text):
    reading = reader.read(text, products)
    assert reading.command not in ("cancel", "stop", "start", "register", "update"), reading
    if reading.command == "order":  # an order attempt that the order plugin refuses: no order is made
        assert isinstance(order_lines(reading.args, products), str), reading


@pytest.mark.parametrize("text, command, args", [
    ("DELIVERY 2", "delivery", "2"), ("delivery slot 3", "delivery", "slot 3"), ("halo, DELIVERY #2", "delivery", "2"),
    ("LOKASI toko dimana", "location", "toko dimana"),
])
def test_a_third_party_keyword_with_words_is_its_plugins_though_they_are_a_built_in_cue(products, text, command,
                                                                                         args):
    """"delivery" and "lokasi" are cues of the built-in info; a plugin's own keyword typed first still
    goes to that plugin, which judges its words (a plugin author found DELIVERY 2 answered by info)."""
    host = PluginHost.load(Settings(plugins_dir=None), third_party=False)
    table = dict(host.keyword_table)
    table["DELIVERY"] = Keyword("DELIVERY", "delivery", "antar", "en", 0)
    table["LOKASI"] = Keyword("LOKASI", "location", "lokasi", "id", 0)
    reading = Reader(table, LEX).read(text, products)
    assert (reading.command, reading.keyword.plugin if reading.keyword else None, reading.args) == (
        command, table[reading.word].plugin, args)
    assert Reader(table, LEX).read("buka jam berapa? antar bisa?", products).command == "info"  # no keyword first
