"""The words the reader knows: abbreviations, fillers, greetings, units and intent cues (data).

Defaults cover how customers of an Indonesian neighbourhood shop text (see
docs/customers-texting.md); a shop adds its own words in config.yaml under
``texting:`` (``Lexicon.extended``), never in code. Every word here is in the
folded form of ``normalize.fold`` (lower case).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

# SMS shorthand -> the word it stands for (Indonesian first, a few English ones).
ABBREVIATIONS: dict[str, str] = {
    "yg": "yang", "dgn": "dengan", "dg": "dengan", "sdh": "sudah", "udh": "sudah", "udah": "sudah",
    "dah": "sudah", "blm": "belum", "blom": "belum", "lom": "belum", "brp": "berapa", "brapa": "berapa",
    "tdk": "tidak", "gk": "tidak", "ga": "tidak", "gak": "tidak", "nggak": "tidak", "ngga": "tidak",
    "enggak": "tidak", "tak": "tidak", "sy": "saya", "aq": "saya", "aku": "saya", "gw": "saya",
    "utk": "untuk", "tlg": "tolong", "tlong": "tolong", "aja": "saja", "aj": "saja", "jgn": "jangan",
    "jngn": "jangan", "lg": "lagi", "lgi": "lagi", "dr": "dari", "krn": "karena", "bs": "bisa", "bsa": "bisa",
    "gmn": "bagaimana", "gimana": "bagaimana", "gmana": "bagaimana", "td": "tadi", "kmrn": "kemarin",
    "kmarin": "kemarin", "skrg": "sekarang", "skrng": "sekarang", "sekarng": "sekarang", "psn": "pesan",
    "pesen": "pesan", "pesenan": "pesanan", "psnan": "pesanan", "kirimin": "kirim", "krm": "kirim",
    "anter": "antar", "dianter": "diantar", "hrg": "harga", "hrga": "harga",
    "makasi": "makasih", "mksh": "makasih", "mks": "makasih", "trims": "makasih", "trimakasih": "makasih",
    "terimakasih": "makasih", "tks": "makasih", "thx": "thanks", "tq": "thanks", "ty": "thanks",
    "ok": "oke", "okay": "oke", "okey": "oke", "okee": "oke", "okeh": "oke", "sip": "oke", "siip": "oke",
    "promo2": "promo", "promonya": "promo", "iklan2": "iklan", "smsnya": "sms", "lgs": "langsung",
    "ass": "assalamualaikum", "askum": "assalamualaikum", "assalamu'alaikum": "assalamualaikum",
    "asslm": "assalamualaikum", "assalamualaikum": "assalamualaikum", "slmt": "selamat", "met": "selamat",
    "mlm": "malam", "pg": "pagi", "poinnya": "poin", "pointnya": "poin", "hadiahnya": "hadiah",
    "harganya": "harga", "pesannya": "pesan", "pesanannya": "pesanan", "caranya": "cara",
    "alamatnya": "alamat", "tokonya": "toko", "jd": "jadi", "jdi": "jadi", "bgt": "banget", "kalo": "kalau",
    "klo": "kalau", "trus": "terus", "tp": "tapi", "tpi": "tapi", "pls": "please", "plz": "please",
    "odr": "order", "ordr": "order", "oder": "order", "pesenin": "pesan", "pesanin": "pesan",
    "pesankan": "pesan", "beliin": "beli", "belikan": "beli", "dituker": "ditukar", "tuker": "tukar",
    "nuker": "tukar", "dateng": "datang", "nyampe": "sampai", "nyampai": "sampai", "sampe": "sampai",
    "cepet": "cepat", "anterin": "antar", "dianterin": "diantar", "bner": "benar", "bnr": "benar",
    # Sundanese, Javanese and Jakarta forms customers mix in
    "mesen": "pesan", "mesenin": "pesan", "batalin": "batal", "batalkan": "batal", "cancelin": "cancel",
    "siapin": "siapkan", "berapaan": "berapa", "brapaan": "berapa", "kumaha": "bagaimana", "carana": "cara",
    "karo": "sama", "diterke": "diantar", "anterke": "antar", "gue": "saya", "gua": "saya", "kagak": "tidak",
    "ndak": "tidak", "mboten": "tidak", "teu": "tidak", "henteu": "tidak", "yaudah": "ya",
    "udahan": "sudah", "sakarung": "sekarung", "sakilo": "sekilo", "saliter": "seliter", "sabungkus": "sebungkus",
    "nuhun": "makasih", "hatur": "makasih", "matur": "makasih", "nuwun": "makasih", "suwun": "makasih",
    "enjing": "pagi", "sonten": "sore", "dalu": "malam", "wilujeng": "selamat", "sugeng": "selamat",
    "barusan": "tadi", "tadi2": "tadi", "kmaren": "kemarin", "kemaren": "kemarin", "segelnya": "segel",
    "wis": "sudah", "uwis": "sudah", "sampun": "sudah", "durung": "belum", "dereng": "belum",
    "pesenanku": "pesanan", "pesananku": "pesanan", "pesanane": "pesanan", "kirimkan": "kirim",
    "promosi": "promo", "promosi2": "promo", "promo2nya": "promo", "iklannya": "iklan", "sm": "sama",
    "dijalan": "jalan", "dapet": "dapat",
    "trs": "terus", "dibatalkan": "batal", "dibatalin": "batal", "dicancel": "cancel", "jgn2": "jangan",
    "u": "you", "ur": "your", "msh": "masih", "masi": "masih", "dmn": "mana", "dimana": "mana",
    "kpn": "kapan", "jm": "jam", "bks": "bungkus", "bgks": "bungkus", "bngks": "bungkus",
}

# Words that carry no item and no intent: politeness, address forms, particles.
FILLERS: frozenset[str] = frozenset("""
tolong mohon minta mau ingin pengen pengin dong donk ya yah yaa iya deh sih nih tuh lah kah kok loh lho
kak ka kakak mas mbak mba bang pak bu bapak ibu om tante min admin gan sis bos bro teteh aa akang neng
nggih atuh euy mah monggo mangga punten mriki wae we nya heula siapkan sediakan
of some per can could will just also thank hey
ada yang saya kami aku please pls the a an i want would like to me my for with
nya sama juga ini itu aja saja dulu sekarang hari secepatnya segera cepat
""".split())

GREETINGS: frozenset[str] = frozenset("""
assalamualaikum assalamu alaikum wr wb warahmatullahi wabarakatuh salam selamat pagi siang sore malam
halo hallo hello helo hai hay hi hey p ping permisi punten shalom om swastiastu kulonuwun sampurasun
morning evening afternoon good
""".split())

THANKS: frozenset[str] = frozenset("""
makasih terima kasih thanks thank you oke siap baik mantap mantab good great nice noted sudah iya ya yes
sama sama terimakasih alhamdulillah amin aamiin banyak got it lot very much noted sip appreciate
""".split())

# Unit words -> (dimension, size in base units): mass in grams, volume in millilitres, or a count
# of the catalogue's own unit ("karung", "bungkus": one of whatever the product is sold as).
UNITS: dict[str, tuple[str, float]] = {
    "kg": ("g", 1000), "kilo": ("g", 1000), "kilogram": ("g", 1000), "kgs": ("g", 1000), "kilogr": ("g", 1000),
    "g": ("g", 1), "gr": ("g", 1), "gram": ("g", 1), "grm": ("g", 1), "ons": ("g", 100),
    "l": ("ml", 1000), "lt": ("ml", 1000), "ltr": ("ml", 1000), "liter": ("ml", 1000), "litre": ("ml", 1000),
    "ml": ("ml", 1),
    "lusin": ("count", 12), "dozen": ("count", 12),
}
COUNT_UNITS: frozenset[str] = frozenset("""
x pcs pc biji bh buah butir bungkus bks bgks pak pack kotak ktk dus kardus box karung sak botol btl kaleng klg
tabung galon renceng rcg sachet saset sachets batang tube pouch ikat ekor potong lembar item items unit
bottle bottles bag bags pack packs packet packets box boxes can cans sack sacks tin tins carton cartons piece pieces
""".split())

# Kinds of pack: a count word and the catalogue's unit of one group name the same thing ("bks" and
# "bungkus", "sak" and "karung", "dus" and "kotak"); words of different groups do not ("aqua 2 dus"
# is a carton, not a bottle). "bag" is said of a pack and of a sack alike: a plain count.
PACK_GROUPS: dict[str, frozenset[str]] = {g.split(":")[0]: frozenset(g.split(":")[1].split()) for g in """
bungkus:bungkus bks bgks bngks pak pack packs packet packets pouch plastik
botol:botol btl bottle bottles
kotak:kotak ktk box boxes dus kardus karton carton cartons
karung:karung sak sack sacks
kaleng:kaleng klg can cans tin tins
tabung:tabung
galon:galon
renceng:renceng rcg
sachet:sachet saset sachets
batang:batang
tube:tube
butir:butir ekor potong lembar biji
ikat:ikat
""".strip().splitlines()}

NUMBER_WORDS: dict[str, int] = {w: i for i, w in enumerate(
    "nol satu dua tiga empat lima enam tujuh delapan sembilan sepuluh sebelas".split())}
NUMBER_WORDS.update({w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())})
NUMBER_WORDS.update({"setengah": 0.5, "stengah": 0.5, "seperempat": 0.25, "half": 0.5})

# Words that start talk after the items ("beras 10 kg utk besok ya", "gas 1, anter ke Gg. Mawar 5",
# "galon 2, thanks"): the rest of that item's words is not a product.
TRAILERS: frozenset[str] = frozenset("""
untuk buat ke di jam besok nanti lusa antar diantar kirim dikirim alamat rumah makasih thanks terima
tapi karena soalnya kalau biar supaya sebelum sesudah habis pakai tunggu ditunggu bisa boleh kapan
""".split())

# Words after a number that make it a time, not an order number ("It's been 2 hours", "udh 2 hari").
TIME_WORDS: frozenset[str] = frozenset("jam hari menit minggu bulan hour hours day days minute minutes week weeks"
                                       .split())

# Words that turn the cue after them around: "jangan batal", "gak jadi batal", "dont cancel".
NEGATIONS: frozenset[str] = frozenset({"jangan", "tidak", "dont", "don't", "not", "never", "belum"})
# Words that show something already happened ("sdh pesan gula 2 td pagi"), not a new request.
PAST: frozenset[str] = frozenset({"sudah", "tadi", "kemarin", "lalu", "ordered", "bought", "yesterday"})

# A number right after these is part of the product's name ("Teh Celup isi 25", "pampers ukuran 3").
NAME_NUMBERS: frozenset[str] = frozenset({"isi", "ukuran", "size", "nomor", "no", "type", "tipe"})
# Packs whose size makes them another product: a 12 kg gas cylinder is not four 3 kg ones.
FIXED_SIZE_PACKS: frozenset[str] = frozenset({"tabung", "galon"})

# Separators between items of one order ("gula 1 sama minyak 1").
ITEM_JOINERS: frozenset[str] = frozenset({"sama", "dan", "and", "plus", "serta", "&", "+", "terus", "trus",
                                          "sekalian"})


# Everyday English (and colloquial) names of groceries -> the Indonesian word a catalogue uses.
SYNONYMS: dict[str, str] = {
    "rice": "beras", "sugar": "gula", "oil": "minyak", "cooking": "goreng", "egg": "telur", "eggs": "telur",
    "flour": "terigu", "milk": "susu", "coffee": "kopi", "tea": "teh", "water": "air", "gallon": "galon",
    "soap": "sabun", "shampoo": "sampo", "toothpaste": "odol", "salt": "garam", "bread": "roti",
    "biscuit": "biskuit", "biscuits": "biskuit", "noodle": "mie", "noodles": "mie", "mi": "mie", "indomie": "mie",
    "ketchup": "kecap", "soy": "kecap", "sauce": "saus", "chili": "sambal", "onion": "bawang", "shallot": "bawang",
    "detergent": "deterjen", "ice": "es", "lpg": "gas", "elpiji": "gas", "telor": "telur", "endog": "telur",
    "sampho": "sampo", "aer": "air",
    # phrases (several words) are replaced as a whole before the words are read
    "soy sauce": "kecap", "sweet soy sauce": "kecap manis", "ground coffee": "kopi bubuk",
    "cooking oil": "minyak goreng", "instant noodles": "mie instan", "dish soap": "sabun piring",
    "mineral water": "air mineral", "chili sauce": "saus sambal", "washing powder": "deterjen",
    "bar soap": "sabun mandi", "shallots": "bawang merah", "red onion": "bawang merah",
    "gas cylinder": "gas", "condensed milk": "susu kental", "uht milk": "susu uht", "tea bags": "teh celup",
}


DEFAULT_CUES: dict[str, list[str]] = {
    # opt-out needs a "don't/stop" word and a "promotion" word; checked before orders ("jangan kirim promo")
    "stop": ["jangan promo", "jangan kirim sms", "tidak usah promo", "tidak perlu promo", "stop promo",
             "berhenti promo", "tidak mau promo", "stop iklan", "jangan iklan", "stop sms", "unsubscribe",
             "no more promo", "stop sending", "tidak usah kirim sms", "promo jangan", "promo tidak usah",
             "iklan stop", "promo stop", "sms stop", "cukup promo", "cukup sms", "tidak usah sms", "sms jangan",
             "tidak mau dapat promo"],
    "start": ["mulai lagi", "kirim promo lagi", "kirim lagi promo", "mau terima promo",
              "promo lagi dong", "start again", "info promo lagi", "send promo again", "promo dikirim lagi",
              "promo boleh lagi", "boleh promo lagi"],
    "cancel": ["batal", "batalkan", "tidak jadi", "cancel", "gajadi"],
    "help": ["cara pesan", "cara daftar", "cara order", "bagaimana pesan", "bagaimana order", "cara",
             "bantuan", "bantu", "menu", "help", "how to", "lewat sms", "pesan lewat", "order lewat",
             "how does", "how can i order", "what can i text", "what can i send", "format"],
    "info": ["jam buka", "jam tutup", "tutup jam", "buka jam", "tutup kapan", "buka kapan", "alamat toko",
             "toko mana", "lokasi", "ongkir", "ongkos kirim", "where shop", "opening hours", "buka tidak",
             "buka hari", "hari buka", "bisa antar", "bisa kirim ke", "antar sampai", "delivery", "deliver", "minggu buka", "libur", "what time", "open", "opening", "close",
             "where is", "toko jalan", "toko mana", "lokasi toko"],
    "balance": ["poin", "point", "points", "my points", "how many points"],
    "rewards": ["hadiah", "rewards", "reward", "bisa ditukar", "ditukar apa", "tukar apa", "tukar poin apa",
                "voucher", "redeem for", "can redeem", "what redeem"],
    "status": ["pesanan sudah", "pesanan belum", "status pesanan", "pesanan mana", "pesanan kapan",
               "pesanan dikirim", "pesanan sampai", "order status", "my order", "sudah dikirim",
               "kapan diantar", "kapan dikirim", "sudah diantar", "sudah sampai", "sudah diproses",
               "belum diproses", "diproses", "where is my order", "where my order", "order arrive",
               "cek pesanan", "pesanan saya", "sudah jalan", "jalan belum", "sudah berangkat"],
    "update": ["ganti alamat", "ubah alamat", "pindah alamat", "alamat pindah", "alamat baru", "ganti nama",
               "ubah nama",
               "ganti lahir", "ubah lahir", "change address"],
    "register": ["daftar", "registrasi", "gabung member", "jadi member", "register", "sign up"],
    # a complaint in the customer's words: something wrong with what they got
    "complain": ["komplain", "keluhan", "kecewa", "rusak", "bocor", "pecah", "busuk", "basi", "jamuran",
                 "berjamur", "kadaluarsa", "kedaluwarsa", "expired", "penyok", "sobek", "kotor", "tidak penuh",
                 "kurang penuh", "cepat habis", "cepet habis", "salah kirim", "belum sampai", "belum datang",
                 "tidak sampai", "tidak datang", "kurang", "menggumpal", "bau", "complaint", "broken",
                 "salah barang", "telat", "terlambat", "kemahalan", "tidak akurat", "rembes", "bolong", "retak",
                 "aneh", "segel", "kebuka", "isinya cuma", "harusnya", "tidak sesuai", "palsu", "kempes",
                 "wrong item", "damaged", "leaking", "expired", "kok cuma", "cuma dapat", "nota beda",
                 "ditagih lebih", "lebih mahal dari"],
    "price": ["harga", "berapa", "price", "how much", "masih ada", "ready", "stok", "tersedia", "ada",
              "do you have", "do you sell"],
    "order": ["pesan", "beli", "order", "kirim", "dikirim", "antar", "diantar", "ambil", "titip", "buy",
              "siapkan", "like", "want", "need", "get"],
}


@dataclass(frozen=True)
class Lexicon:
    """Everything the reader knows about words; immutable, built once at start-up."""

    abbreviations: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(dict(ABBREVIATIONS)))
    fillers: frozenset[str] = FILLERS
    greetings: frozenset[str] = GREETINGS
    thanks: frozenset[str] = THANKS
    units: Mapping[str, tuple[str, float]] = field(default_factory=lambda: MappingProxyType(dict(UNITS)))
    count_units: frozenset[str] = COUNT_UNITS
    numbers: Mapping[str, float] = field(default_factory=lambda: MappingProxyType(dict(NUMBER_WORDS)))
    joiners: frozenset[str] = ITEM_JOINERS
    trailers: frozenset[str] = TRAILERS
    synonyms: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(dict(SYNONYMS)))
    cues: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=lambda: MappingProxyType(
        {c: tuple(tuple(p.split()) for p in ps) for c, ps in DEFAULT_CUES.items()}))

    def expand(self, word: str) -> str:
        """The full form of a folded word (``yg`` -> ``yang``); the word itself if it is not short for one."""
        return self.abbreviations.get(word, word)

    def replace_phrases(self, text: str) -> str:
        """``text`` with each several-word synonym replaced (``soy sauce`` -> ``kecap``), case aside."""
        for phrase in self._phrases:
            if phrase in text.lower():
                meant = self.synonyms[phrase]
                text = re.sub(rf"(?i)(?<!\w){re.escape(phrase)}(?!\w)", lambda _: meant, text)
        return text

    @property
    def _phrases(self) -> list[str]:
        return sorted((k for k in self.synonyms if " " in k), key=len, reverse=True)

    def pack_group(self, word: str) -> str | None:
        """The kind of pack a word names (``bks`` -> ``bungkus``), None for plain counts (pcs, x)."""
        word = self.expand(word.lower())
        return next((g for g, ws in PACK_GROUPS.items() if word in ws), None)

    def is_unit(self, word: str) -> bool:
        """True for ``kg``, ``liter``, ``karung``... (measures and counts)."""
        return word in self.units or word in self.count_units

    def extended(self, *, abbreviations: Mapping[str, str] | None = None, fillers: list[str] | None = None,
                 synonyms: Mapping[str, str] | None = None,
                 units: Mapping[str, str] | None = None, phrases: Mapping[str, list[str]] | None = None,
                 greetings: list[str] | None = None, thanks: list[str] | None = None) -> "Lexicon":
        """A copy with a shop's own words added (config ``texting``).

        ``synonyms`` maps a word customers use to the word the catalogue uses (``sugar: gula``);
        ``units`` maps a word to a known unit (``kresek: bungkus``, ``kilogram: kg``); ``phrases``
        maps a command (``order``, ``price``, ``stop``...) to extra phrases that show it.
        Raises ValueError for a unit that maps to no known unit.
        """
        abbr = dict(self.abbreviations)
        abbr.update({k.lower(): v.lower() for k, v in (abbreviations or {}).items()})
        syn = dict(self.synonyms)
        syn.update({k.lower(): v.lower() for k, v in (synonyms or {}).items()})
        unit_map, counts = dict(self.units), set(self.count_units)
        for word, meaning in (units or {}).items():
            target = meaning.lower()
            if target in self.units:
                unit_map[word.lower()] = self.units[target]
            elif target in self.count_units or target == "count":
                counts.add(word.lower())
            else:
                raise ValueError(f"unit {word!r}: {meaning!r} is not a known unit (kg, g, liter, ml, bungkus, ...)")
        cues = {c: list(ps) for c, ps in self.cues.items()}
        for command, extra in (phrases or {}).items():
            cues.setdefault(command, []).extend(tuple(p.lower().split()) for p in extra if p.strip())
        return replace(
            self, abbreviations=MappingProxyType(abbr), synonyms=MappingProxyType(syn), units=MappingProxyType(unit_map), count_units=frozenset(counts),
            fillers=self.fillers | {w.lower() for w in fillers or []},
            greetings=self.greetings | {w.lower() for w in greetings or []},
            thanks=self.thanks | {w.lower() for w in thanks or []},
            cues=MappingProxyType({c: tuple(ps) for c, ps in cues.items()}))
