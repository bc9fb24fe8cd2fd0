// The desk's only script: uploads (drag and drop, paste, picker) and live job status.
// No framework, no build step; served from /static, allowed by the page's CSP.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const caseEl = document.getElementById("case");
  const messages = document.getElementById("upload-messages");
  const KEY = "desk-upload-messages";

  function say(text, cls) {
    if (!messages) return;
    const li = document.createElement("li");
    li.textContent = text;
    li.className = cls;
    messages.appendChild(li);
  }

  // messages from an upload survive the reload that shows its results
  if (messages && sessionStorage.getItem(KEY)) {
    for (const [text, cls] of JSON.parse(sessionStorage.getItem(KEY))) say(text, cls);
    sessionStorage.removeItem(KEY);
  }

  async function upload(files) {
    const zone = document.getElementById("dropzone");
    if (!zone || !files.length) return;
    const form = new FormData();
    for (const f of files) form.append("files", f, f.name || "pasted image.png");
    say(`uploading ${files.length} file(s)…`, "muted");
    let data;
    try {
      const resp = await fetch(zone.dataset.url, {
        method: "POST", body: form, credentials: "same-origin",
        headers: {"X-CSRF-Token": csrf, "X-Requested-With": "fetch", "Accept": "application/json"},
      });
      data = await resp.json();
    } catch (e) {
      say("the upload did not get through: " + e, "bad");
      return;
    }
    const kept = [];
    if (data.stored && data.stored.length) kept.push([`stored ${data.stored.length}: ${data.stored.join(", ")}`, "ok"]);
    for (const r of data.refused || []) kept.push([`${r.file}: refused, ${r.error}`, "bad refused"]);
    if (data.error) kept.push([data.error, "bad refused"]);
    for (const [t, c] of kept) say(t, c);
    if (data.stored && data.stored.length) {
      sessionStorage.setItem(KEY, JSON.stringify(kept));
      poll(true);
    }
  }

  const zone = document.getElementById("dropzone");
  if (zone) {
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      upload([...e.dataTransfer.files]);
    });
    document.getElementById("file-input").addEventListener("change", (e) => upload([...e.target.files]));
    document.addEventListener("paste", (e) => {
      const files = [...(e.clipboardData || {}).items || []]
        .filter((i) => i.kind === "file").map((i) => i.getAsFile()).filter(Boolean);
      if (files.length) { e.preventDefault(); upload(files); }
    });
  }

  // a screenshot's check, as soon as its OCR is done: the server renders the fragment
  function showRow(r) {
    let article = document.getElementById(`shot-${r.shot}`);
    if (!article) {  // uploaded since the page was drawn: its full form comes with the reload
      article = document.createElement("article");
      article.id = `shot-${r.shot}`;
      article.dataset.file = r.name;
      const img = document.createElement("img");
      img.className = "thumb";
      img.alt = r.name;
      img.src = `${caseEl.dataset.statusUrl.replace(/status$/, "")}shots/${r.shot}/thumb.jpg`;
      const body = document.createElement("div");
      body.className = "shot-body";
      const h3 = document.createElement("h3");
      h3.textContent = r.name;
      const check = document.createElement("div");
      check.className = "shot-check";
      body.append(h3, check);
      article.append(img, body);
      document.getElementById("shots").appendChild(article);
    }
    article.className = `shot ${r.state}`;
    const check = article.querySelector(".shot-check");
    if (check) check.outerHTML = r.html;
    caseEl.dataset.rowsAfter = r.row;
  }

  // something typed into a form and not saved yet (a note, the letter, a choice)
  function unsaved() {
    for (const el of document.querySelectorAll("form input, form textarea, form select")) {
      if (["hidden", "file", "submit", "button"].includes(el.type)) continue;
      if (el.type === "checkbox" || el.type === "radio") {
        if (el.checked !== el.defaultChecked) return true;
      } else if (el.tagName === "SELECT") {
        const d = [...el.options].findIndex((o) => o.defaultSelected);
        if (el.selectedIndex !== (d < 0 ? 0 : d)) return true;
      } else if (el.value !== el.defaultValue) return true;
    }
    return false;
  }

  // the page is out of date: reload it, unless that would throw away what is being typed;
  // then say so and let the person reload once they have saved
  function refresh() {
    if (!unsaved()) { location.reload(); return; }
    document.querySelectorAll("#jobs .job").forEach((n) => n.remove());
    if (document.getElementById("ready-notice")) return;
    const p = document.createElement("p");
    p.id = "ready-notice";
    p.className = "ready-notice";
    p.append("Results are ready. Save what you are typing, or ");
    const b = document.createElement("button");
    b.type = "button";
    b.id = "ready-reload";
    b.textContent = "reload";
    b.addEventListener("click", () => location.reload());
    p.append(b, " to see them (unsaved changes are lost).");
    document.getElementById("jobs").prepend(p);
  }

  // live status: while jobs run, show their progress and each screenshot's check as it
  // comes; when they end, reload the page (refresh)
  let timer = null;
  async function poll(expectWork) {
    if (!caseEl) return;
    clearTimeout(timer);
    let s;
    try {
      const url = `${caseEl.dataset.statusUrl}?after=${encodeURIComponent(caseEl.dataset.rowsAfter || 0)}`;
      const resp = await fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"});
      s = await resp.json();
    } catch (e) {
      timer = setTimeout(() => poll(expectWork), 3000);
      return;
    }
    for (const r of s.rows || []) showRow(r);
    const jobs = document.getElementById("jobs");
    if (s.active && s.active.length) {
      jobs.querySelectorAll(".job").forEach((n) => n.remove());
      for (const j of s.active) {
        const div = document.createElement("div");
        div.className = "job";
        div.dataset.job = j.id;
        div.textContent = `${j.kind}: ${j.state}` + (j.total ? ` ${j.done}/${j.total}` : "") +
          (j.worker ? ` running on ${j.worker}` : "");
        jobs.prepend(div);
      }
      caseEl.dataset.hadWork = "1";
      timer = setTimeout(() => poll(false), 1000);
    } else if (caseEl.dataset.hadWork || expectWork || String(s.version) !== caseEl.dataset.version) {
      refresh();
    }
  }
  // rendered with work under way: reload once it is over, even if it ends before the first poll
  if (caseEl && document.querySelector("#jobs .job")) poll(true);

  document.querySelectorAll("[data-back]").forEach((a) =>
    a.addEventListener("click", (e) => { if (history.length > 1) { e.preventDefault(); history.back(); } }));
})();
