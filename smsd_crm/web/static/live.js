// Live refresh: wait on /live for the page's topic to change, then reload the page.
// While someone is typing in a form (a field differs from its loaded value), show a banner instead of throwing the text away.
(function () {
  "use strict";
  const body = document.body;
  const topic = body.dataset.liveTopic;
  if (!topic) return;
  let version = body.dataset.liveVersion;

  function typing() {
    return Array.from(document.querySelectorAll("textarea, input[type=text], input:not([type])"))
      .some((el) => el.value !== el.defaultValue);
  }

  async function loop() {
    for (;;) {
      let answer;
      try {
        const response = await fetch(
          "/live?topic=" + encodeURIComponent(topic) + "&v=" + encodeURIComponent(version),
          { credentials: "same-origin", cache: "no-store" });
        if (!response.ok) return; // logged out or gone: the next reload shows the login page
        answer = await response.json();
      } catch (err) {
        await new Promise((resolve) => setTimeout(resolve, 5000)); // daemon restarting
        continue;
      }
      if (String(answer.v) !== String(version)) {
        if (typing()) {
          document.getElementById("live-banner").hidden = false;
          version = answer.v;
        } else {
          window.location.reload();
          return;
        }
      }
    }
  }
  loop();
})();
