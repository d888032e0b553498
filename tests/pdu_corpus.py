"""PDUs captured from real phones and modems, with what they say.

Sources: gammu's tests/at-sms/*.dump (AT logs collected from users' devices) and the
GSM 03.40 tutorial vector. ``oracle_wrong`` names the fields where python-gammu is
known to be wrong, with the reason (see docs/modem-quirks.md).
"""

from __future__ import annotations

CORPUS = [
    dict(name="tutorial deliver",
         pdu="07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07",
         type="SMS-DELIVER", number="+31641600986", text="How are you?", year=2002),
    dict(name="gammu 09: subscriber number, two-digit year 99",
         pdu="07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37",
         type="SMS-DELIVER", number="27838890001", text="hellohello", year=1999,
         oracle_wrong={"year": "gammu reads year 99 as 2089"}),
    dict(name="gammu 07: +CMGR without stat",
         pdu="0791534850020200040C9153486507895500006090608164138004D4F29C0E",
         type="SMS-DELIVER", number="+358456709855", text="Test", year=2006),
    dict(name="gammu 39: national sender, long GSM-7",
         pdu="07914336120011F10404A14949000021807001253040356C76B81D268741F0B29C9C268741E4B20EB49AD16CB19BAD368"
             "BD96EA0B71B04BBBD603810284C078162315D2CE70289EBFAE1AC0CB2BFF52C10FC2D0799C3F6B71CC46687DB6550980D8AC962",
         type="SMS-DELIVER", number="9494", year=2012),
    dict(name="gammu 42: DCS 0xFB (reserved bit set) is GSM-7 class 3",
         pdu="06914977000030200B914977745010F700FB918050809053221DB15CEC868BC9663018080402816432DD0C060281A4412A159904",
         type="SMS-DELIVER", number="+94774705017", text="1917812300     22:30   RATTHI", year=2019,
         oracle_wrong={"text": "gammu looks only at DCS bits 2-3 and reads 0xFB as 8-bit"}),
    dict(name="gammu 14: a phone sending UCS-2 under DCS 0xF9",
         pdu="07919761989901F031000B919761084218F200F9FF12042204350441044200200054006500730074",
         type="SMS-SUBMIT", number="+79168024812", text="Тест Test",
         oracle_wrong={"text": "gammu trusts the DCS and returns 8-bit data"}),
    dict(name="gammu 40: WAP push, 8-bit with port addressing",
         pdu="07912374151616F6440B911174164210F000F571309290346280860605040B8423F04F06226170706C69636174696F6E2F766E"
             "642E7761702E6D6D732D6D65737361676500AF848C82983831343630343934406D6D7331008D928918802B333333333334393"
             "33231312F545950453D504C4D4E0096008F8186818A808E03017A598805810303F48083687474703A2F2F6D74732F3F69643D"
             "383134363034393400",
         type="SMS-DELIVER", number="+11476124010", encoding="8bit", year=2017),
    dict(name="gammu 32: status report with FF padding",
         pdu="079124602009999002AB098106845688F8907080517375809070805183018000" + "FF" * 40,
         type="SMS-STATUS-REPORT", number="604865888", reference=0xAB, status=0),
    dict(name="oFono alnum_sender: alphanumeric sender, no phantom @",
         pdu="0791447758100650040DD0F334FC1CA6970100008080312170224008D4F29CDE0EA7D9",
         type="SMS-DELIVER", number="sipgate", text="Testmail", year=2008),
]
