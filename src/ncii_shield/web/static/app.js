// ncii-shield: review queue behaviour. No framework; served from this origin only (CSP).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Click-to-reveal: POST with the page's CSRF token; the server records each reveal in the audit log.
  const csrf = document.querySelector('input[name="csrf_token"]');
  document.querySelectorAll("button.reveal").forEach((button) => {
    button.addEventListener("click", async () => {
      const body = new URLSearchParams({ csrf_token: csrf ? csrf.value : "" });
      const response = await fetch(button.dataset.url, { method: "POST", body, credentials: "same-origin" });
      if (!response.ok) { button.textContent = "✕ " + response.status; return; }
      const image = button.parentElement.querySelector("img.thumb");
      // A data: URL, not a blob: one: the CSP allows images only from 'self' and data:.
      const blob = await response.blob();
      image.src = await new Promise((resolve, reject) => {
        const reader = new FileReader();
        reader.onload = () => resolve(reader.result);
        reader.onerror = () => reject(reader.error);
        reader.readAsDataURL(blob);
      });
      image.classList.add("revealed");
      button.remove();
    });
  });
  // Live scan progress: poll the job until it is done, then reload to show the new scan row.
  const job = document.getElementById("job");
  if (job) {
    const poll = async () => {
      const response = await fetch(job.dataset.url, { credentials: "same-origin" });
      if (!response.ok) return;
      const state = await response.json();
      const bar = document.getElementById("job-bar");
      // Reading moves the bar by the export's position; matching has no measure, so the bar says "busy"
      // (no value) instead of standing still where reading ended.
      if (state.finished) bar.value = 100;
      else if (state.stage === "reading" && state.total_positions) bar.value = Math.round((100 * state.done_positions) / state.total_positions);
      else if (state.stage !== "reading") bar.removeAttribute("value");
      const count = (label, n) => (label || "{n}").replace("{n}", n);
      const stage = job.dataset["stage" + state.stage.charAt(0).toUpperCase() + state.stage.slice(1)] || state.stage;
      document.getElementById("job-text").textContent =
        `${stage}: ${count(job.dataset.messages, state.items)}, ${count(job.dataset.media, state.media)}` +
        (state.error ? ` — ${state.error}` : "");
      if (state.finished) setTimeout(() => window.location.assign(window.location.pathname), 1500);
      else setTimeout(poll, 1000);
    };
    poll();
  }
  // "Select all" ticks the hits not reviewed yet: a decided hit may already be in a notice that was sent.
  const all = document.getElementById("select-all");
  if (all) all.addEventListener("change", () => document.querySelectorAll("tr.hit:not(.decided) input.pick").forEach((c) => { c.checked = all.checked; }));

  // Confirm / Reject with nothing ticked: say so here, instead of an error page that loses the reason.
  const form = document.getElementById("review-form");
  if (form) form.addEventListener("submit", (event) => {
    const message = document.getElementById("review-message");
    if (document.querySelectorAll("input.pick:checked").length) { if (message) message.hidden = true; return; }
    event.preventDefault();
    if (message) { message.textContent = form.dataset.none; message.hidden = false; }
  });

  // The notice page: copy its text for pasting into an e-mail or a platform's web form.
  const copy = document.getElementById("copy-notice");
  if (copy) copy.addEventListener("click", async () => {
    const pre = document.getElementById("notice-text");
    try {
      await navigator.clipboard.writeText(pre.textContent);
      copy.textContent = copy.dataset.done;
    } catch (error) {
      // No clipboard (e.g. plain http on another host): select the text so that Ctrl+C copies it.
      const range = document.createRange();
      range.selectNodeContents(pre);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
  });

  // The evidence export takes a few seconds and the page does not change: say that it is coming.
  const exportForm = document.getElementById("evidence-form");
  if (exportForm) exportForm.addEventListener("submit", () => {
    const status = document.getElementById("export-status");
    if (!status) return;
    status.textContent = status.dataset.text;
    setTimeout(() => { status.textContent = ""; }, 15000);
  });

  // Error pages: back to the page the form was on, with what was typed still there.
  document.querySelectorAll("button.go-back").forEach((button) => {
    if (window.history.length < 2) { button.remove(); return; }
    button.addEventListener("click", () => window.history.back());
  });

  // Keyboard: j/k move, x select, c confirm, r reject, v reveal (not while typing in a field).
  const rows = Array.from(document.querySelectorAll("tr.hit"));
  if (!rows.length) return;
  let at = 0;
  const show = () => { rows.forEach((r, i) => r.classList.toggle("cursor", i === at)); rows[at].scrollIntoView({ block: "nearest" }); };
  const submit = (decision) => {
    const picked = document.querySelectorAll("input.pick:checked");
    if (!picked.length) rows[at].querySelector("input.pick").checked = true;
    const reason = document.getElementById("reason");
    if (!reason.value) { reason.focus(); reason.reportValidity(); return; }
    document.getElementById(decision === "confirmed" ? "confirm-selected" : "reject-selected").click();
  };
  document.addEventListener("keydown", (event) => {
    if (event.target.matches("input, textarea, select") || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "j") { at = Math.min(at + 1, rows.length - 1); show(); }
    else if (event.key === "k") { at = Math.max(at - 1, 0); show(); }
    else if (event.key === "x") { const c = rows[at].querySelector("input.pick"); c.checked = !c.checked; }
    else if (event.key === "v") rows[at].querySelectorAll("button.reveal").forEach((b) => b.click());  // copy and enrolled photo
    else if (event.key === "c") submit("confirmed");
    else if (event.key === "r") submit("rejected");
    else return;
    event.preventDefault();
  });
  show();
});
