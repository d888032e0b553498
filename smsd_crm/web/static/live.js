// Live refresh: wait on /live for the page's topic to change, then reload the page.
// While someone is typing in a form (a field differs from its loaded value), show a banner instead of throwing the text away.
(function () {
  "use strict";
  const body = document.body;
  const topic = body.dataset.liveTopic;
  if (!topic) return;
  let version = body.dataset.liveVersion;
  // Once the person has gone elsewhere (tapped a link, sent a form), a late change must not pull them back here.
  let leaving = false;
  window.addEventListener("beforeunload", () => { leaving = true; });
  window.addEventListener("pagehide", () => { leaving = true; });
  // A tab in the background does not wait on /live: a browser opens at most six connections to one
  // site, and six open tabs each holding a long poll would leave the seventh page unable to load.
  // Hidden, the poll is dropped; shown again, the page asks at once (a change meanwhile reloads it).
  let controller = null, shown = null;
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      if (controller) controller.abort();
    } else if (shown) {
      const resume = shown;
      shown = null;
      resume();
    }
  });
  function visible() {
    return document.hidden ? new Promise((resolve) => { shown = resolve; }) : Promise.resolve();
  }

  // Someone is at work on a form: any field differs from how the page was loaded (text, a date, a
  // choice, a tick box) or holds a draft the browser brought back.
  function typing() {
    return Array.from(document.querySelectorAll("textarea, input, select")).some((el) => {
      if (el.type === "hidden" || el.type === "submit" || el.type === "button") return false;
      if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
      if (el.tagName === "SELECT") {
        // with no option marked selected, a single choice starts on its first option
        const options = Array.from(el.options), marked = options.map((o) => o.defaultSelected);
        if (!el.multiple && options.length && !marked.some(Boolean)) marked[0] = true;
        return options.some((o, i) => o.selected !== marked[i]);
      }
      return el.value !== el.defaultValue;
    });
  }

  async function loop() {
    for (;;) {
      await visible();
      let answer;
      try {
        controller = new AbortController();
        const response = await fetch(
          "/live?topic=" + encodeURIComponent(topic) + "&v=" + encodeURIComponent(version),
          { credentials: "same-origin", cache: "no-store", signal: controller.signal });
        if (response.status === 401) {
          // Logged out (the login was disabled, its password changed, the session expired): show the
          // login page now rather than a page that no longer updates, unless someone is typing.
          if (!leaving && !typing()) window.location.reload();
          return;
        }
        if (!response.ok) return; // gone: the next reload shows what is wrong
        answer = await response.json();
        if (leaving) return;
      } catch (err) {
        if (err.name === "AbortError") continue; // hidden: wait until shown, then ask again
        await new Promise((resolve) => setTimeout(resolve, 5000)); // daemon restarting
        continue;
      }
      if (String(answer.v) !== String(version)) {
        if (typing()) {
          document.getElementById("live-banner").hidden = false;
          version = answer.v;
        } else if (!leaving) {
          window.location.reload();
          return;
        }
      }
    }
  }
  loop();
})();
