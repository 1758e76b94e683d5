/* The respondent's pages, improved: show_if in the browser, autosave, focus on errors.
   Without this file every item shows, and the server ignores answers to items it hides. */
(function () {
  "use strict";
  var form = document.querySelector("form.answer-form");

  function valuesOf(name) {
    if (!form) { return []; }
    var values = [];
    var fields = form.querySelectorAll("[name='" + name + "']");
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
      if (field.type === "radio" || field.type === "checkbox") {
        if (field.checked) { values.push(field.value); }
      } else if (field.value.trim() !== "") {
        values.push(field.value.trim());
      }
    }
    return values;
  }

  function isVisible(itemId) {
    var block = document.getElementById("item-" + itemId);
    return !block || !block.hidden;  // an item on an earlier page was decided by the server
  }

  /* Items carry data-show-if (the earlier item on this page), and data-show-codes ("1 2") or
     data-show-answered ("true"/"false"). Sources come first on the page, so one pass suffices. */
  function applyShowIf() {
    var blocks = document.querySelectorAll("[data-show-if]");
    for (var i = 0; i < blocks.length; i++) {
      var block = blocks[i];
      var source = block.getAttribute("data-show-if");
      var values = valuesOf(source);
      var shown;
      if (block.hasAttribute("data-show-answered")) {
        shown = (values.length > 0) === (block.getAttribute("data-show-answered") === "true");
      } else {
        var codes = (block.getAttribute("data-show-codes") || "").split(" ");
        shown = values.some(function (v) { return codes.indexOf(v) !== -1; });
      }
      block.hidden = !(shown && isVisible(source));
    }
  }

  var status = document.getElementById("autosave-status");
  var timer = null;
  var pending = null;

  function say(key) {
    if (status) { status.textContent = status.getAttribute("data-" + key) || ""; }
  }

  function autosave(leaving) {
    if (!form || !window.fetch || !window.FormData) { return; }
    var token = form.querySelector("input[name=csrf_token]");
    var data = new FormData(form);
    data.set("action", "autosave");
    say("saving");
    // form.action would be the buttons named "action": read the attribute.
    pending = fetch(form.getAttribute("action") || window.location.href, {
      method: "POST", body: data, credentials: "same-origin", keepalive: !!leaving,
      headers: { "X-Autosave": "1", "X-CSRFToken": token ? token.value : "", "Accept": "application/json" }
    }).then(function (response) {
      if (response.ok) { rebase(data); }
      say(response.ok ? "saved" : "failed");
    }).catch(function () { say("failed"); }).then(function () { pending = null; });
  }

  /* The hidden _base field holds the answers as stored when the page was loaded; the server keeps
     the stored answer for every field this tab left as it was (so another tab's answer is not
     blanked). Once this tab's answers are saved, they are the new base. */
  function rebase(data) {
    var field = form.querySelector("input[name=_base]");
    if (!field) { return; }
    var base;
    try { base = JSON.parse(field.value); } catch (e) { return; }
    Object.keys(base).forEach(function (name) {
      base[name] = Array.isArray(base[name]) ? data.getAll(name) : (data.get(name) || "");
    });
    field.value = JSON.stringify(base);
  }

  function schedule(delay) {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(function () { timer = null; autosave(); }, delay);
  }

  if (form) {
    applyShowIf();
    form.addEventListener("change", function () { applyShowIf(); schedule(300); });
    form.addEventListener("input", function (event) {
      if (event.target.type !== "radio" && event.target.type !== "checkbox") { applyShowIf(); schedule(1200); }
    });
    // A pending background save must not race the button's own save.
    form.addEventListener("submit", function () { if (timer) { clearTimeout(timer); timer = null; } });
    // Leaving the page with a change not yet sent: send it while the page unloads.
    window.addEventListener("pagehide", function () {
      if (timer) { clearTimeout(timer); timer = null; autosave(true); }
    });
  }

  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
