// The SMS counter under a compose box: characters, SMS parts, GSM-7 or UCS-2, and the cost.
// It splits a text the way the modem side does (smsd_crm/sms/compose.py, TS 23.040 concatenation
// with an 8-bit reference): 160 septets or 70 UTF-16 units alone, 153 / 67 per part when
// concatenated, an escape pair or a surrogate pair never cut. The alphabet comes from the server
// (data-gsm7, data-gsm7-ext), so there is one GSM-7 table; tests compare both counts.
(function () {
  "use strict";

  function parts(chars, cost, single, each) {
    const total = chars.reduce((sum, ch) => sum + cost(ch), 0);
    if (total <= single) return 1;
    let count = 1, used = 0;
    for (const ch of chars) {
      const c = cost(ch);
      if (used + c > each) { count += 1; used = 0; }
      used += c;
    }
    return count;
  }

  function group(n, sep) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, sep);
  }

  // What is typed is kept in the browser (localStorage, "draft:<key>") until a page says it was sent
  // (data-sent-draft): a reload, a logout, a refused form or an action on another ticket loses nothing.
  function store() {
    try { return window.localStorage; } catch (err) { return null; }
  }

  function keepDraft(box) {
    const key = box.dataset.draft, drafts = store();
    if (!key || !drafts) return;
    if (box.value === "" && drafts.getItem("draft:" + key)) {
      box.value = drafts.getItem("draft:" + key);
      box.classList.add("draft-restored");
    }
    box.addEventListener("input", () => {
      if (box.value.trim()) drafts.setItem("draft:" + key, box.value);
      else drafts.removeItem("draft:" + key);
    });
  }

  // A character that forces UCS-2 but shows as nothing (a no-break space, a tab) is named by its code.
  function visible(ch) {
    return /^[\s\u00a0\u2000-\u200f\u2028-\u202f\u205f-\u206f\ufeff]$/u.test(ch) || /\p{C}/u.test(ch)
      ? "U+" + ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0") : ch;
  }

  function attach(box) {
    const out = document.getElementById(box.dataset.smsCounter);
    if (!out) return;
    const basic = new Set(Array.from(out.dataset.gsm7));
    const ext = new Set(Array.from(out.dataset.gsm7Ext));
    const price = Number(out.dataset.price || 0);
    function update() {
      // as the server sends it: CRLF as LF, no spaces at the ends; code points (an emoji is one character)
      const typed = Array.from(box.value.replace(/\r\n?/g, "\n").trim());
      // the whole SMS: what the template puts around the typed words counts in the parts too
      const chars = Array.from(out.dataset.before || "").concat(typed, Array.from(out.dataset.after || ""));
      const odd = chars.find((ch) => !basic.has(ch) && !ext.has(ch));
      const n = odd === undefined
        ? parts(chars, (ch) => (ext.has(ch) ? 2 : 1), 160, 153)
        : parts(chars, (ch) => (ch.codePointAt(0) > 0xffff ? 2 : 1), 70, 67);
      const encoding = odd === undefined ? "GSM-7" : out.dataset.ucs2.replace("{char}", visible(odd));
      out.textContent = out.dataset.template
        .replace("{chars}", group(chars.length, out.dataset.sep))
        .replace("{parts}", group(n, out.dataset.sep))
        .replace("{encoding}", encoding)
        .replace("{cost}", "Rp" + group(Math.round(n * price), "."));
      out.dataset.parts = String(n);
      out.dataset.encoding = odd === undefined ? "gsm7" : "ucs2";
      out.classList.toggle("sms-count-many", n > 1);
    }
    box.addEventListener("input", update);
    update();
  }

  const drafts = store();
  if (drafts) {
    document.querySelectorAll("[data-sent-draft]").forEach((el) => drafts.removeItem("draft:" + el.dataset.sentDraft));
  }
  document.querySelectorAll("textarea[data-sms-counter]").forEach((box) => { keepDraft(box); attach(box); });
})();
