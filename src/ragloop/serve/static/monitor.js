"use strict";
// The production loop's tabs: Review (label the answers worth a human's minute, in the
// order GET /v1/review gives; each verdict is POST /v1/labels, a correction is feedback as on
// the Ask tab) and Dashboard (the self-contained page /monitor/report, in a frame).
// Kept apart from app.js: it only adds listeners to its own tabs and elements.
(() => {
  const byId = (id) => document.getElementById(id);
  const REVIEWER = "ragloop.reviewer";
  const METRICS = [["faithfulness", "Faithful to its sources?"], ["correctness", "Correct?"],
    ["relevance", "Relevant to the question?"]];
  const SCORE_NAMES = { grounded: "grounding check", grounding_support: "grounding support",
    citation_precision: "citation precision", citation_recall: "citation recall",
    faithfulness_gain: "likelihood gain", judge_faithfulness_likelihood: "likelihood judge",
    judge_faithfulness: "faithfulness judge", judge_relevancy: "relevancy judge" };

  async function call(path, options = {}) {
    const response = await fetch(path, options);
    let body = null;
    try { body = await response.json(); } catch (_) { /* not JSON */ }
    if (!response.ok) {
      const message = body && body.error ? body.error.message : response.statusText;
      throw new Error(`${response.status}: ${message}`);
    }
    return body;
  }

  function post(path, payload) {
    return call(path, { method: "POST", body: JSON.stringify(payload),
      headers: { "Content-Type": "application/json" } });
  }

  function el(tag, text = "", cls = "") {
    const node = document.createElement(tag);
    if (text) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function status(id, text, isError = false) {
    byId(id).textContent = text;
    byId(id).classList.toggle("error", isError);
  }

  function scoreText(name, score) {
    const label = SCORE_NAMES[name] || name;
    if (score.status !== "ok") return `${label}: ${score.status}`;
    const verdict = name === "grounded" || name.startsWith("judge_");
    const value = verdict ? (score.value ? "pass" : "fail") : score.value.toFixed(2);
    return `${label} ${value}`;
  }

  function sources(item) {
    const box = el("details", "", "review-sources");
    const chunks = (item.metadata && item.metadata.chunks) || [];
    box.appendChild(el("summary", `${chunks.length} retrieved chunk(s)`));
    chunks.forEach((chunk, i) => {
      const block = el("div", "", "review-chunk");
      block.appendChild(el("strong", `[${i + 1}] ${chunk.title || chunk.source || chunk.doc_id}`));
      block.appendChild(el("pre", chunk.text || ""));
      box.appendChild(block);
    });
    return box;
  }

  function labelRow(item, metric, question, note, saved) {
    const row = el("div", "", "row review-label");
    row.dataset.metric = metric;
    row.appendChild(el("span", question, "review-question"));
    const buttons = [[1, "Yes"], [0, "No"]].map(([label, text]) => {
      const button = el("button", text);
      button.dataset.label = String(label);
      button.addEventListener("click", async () => {
        try {
          const stored = await post("/v1/labels", { trace_id: item.id, metric, label,
            note: note.value.trim() || null, reviewer: byId("reviewer").value.trim() || null });
          buttons.forEach((b) => b.classList.toggle("chosen", b === button));
          saved.textContent = `saved (${stored.split} split)`;
          saved.classList.remove("error");
        } catch (err) {
          saved.textContent = "Not saved: " + err.message;
          saved.classList.add("error");
        }
      });
      row.appendChild(button);
      return button;
    });
    return row;
  }

  function correction(item, saved) {
    const box = el("div", "", "review-correct");
    const open = el("button", "Correct it");
    const form = el("form");
    form.hidden = true;
    const text = el("textarea");
    text.rows = 4;
    const save = el("button", "Save correction");
    save.type = "submit";
    form.append(text, save);
    open.addEventListener("click", () => {
      text.value = item.corrected_answer || item.answer;
      form.hidden = false;
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const corrected = text.value.trim();
      if (!corrected) return;
      try {
        await post("/v1/feedback", { trace_id: item.id, corrected_answer: corrected });
        saved.textContent = "correction saved (it is the reference for correctness labels)";
        saved.classList.remove("error");
        form.hidden = true;
      } catch (err) {
        saved.textContent = "Not saved: " + err.message;
        saved.classList.add("error");
      }
    });
    box.append(open, form);
    return box;
  }

  function card(item) {
    const box = el("article", "", "review-item");
    box.dataset.traceId = item.id;
    box.dataset.bucket = item.review.bucket;
    const head = el("div", "", "review-head");
    head.appendChild(el("span", item.review.bucket, "review-bucket"));
    head.appendChild(el("span", item.review.reason, "review-reason"));
    head.appendChild(el("span", `${new Date(item.created).toLocaleString()} · ${item.strategy}`
      + (item.rating ? ` · rated ${item.rating}` : ""), "review-when"));
    box.appendChild(head);
    box.appendChild(el("p", item.question, "review-q"));
    box.appendChild(el("div", item.answer, "answer"));
    const scores = Object.entries(item.online_scores || {}).map(([n, s]) => scoreText(n, s));
    if (scores.length) box.appendChild(el("p", scores.join(" · "), "review-scores"));
    box.appendChild(sources(item));
    const note = el("input");
    note.placeholder = "note (optional)";
    note.size = 40;
    const saved = el("span", "", "review-saved");
    saved.setAttribute("role", "status");
    for (const [metric, question] of METRICS) box.appendChild(labelRow(item, metric, question, note, saved));
    const foot = el("div", "", "row");
    foot.append(note, correction(item, saved), saved);
    box.appendChild(foot);
    return box;
  }

  async function loadReview() {
    const list = byId("review-list");
    status("review-status", "Loading…");
    try {
      const { items } = await call("/v1/review?limit=20");
      list.innerHTML = "";
      items.forEach((item) => list.appendChild(card(item)));
      status("review-status", items.length ? `${items.length} answers to review`
        : "Nothing to review: every recent answer has a label.");
    } catch (err) {
      status("review-status", "Failed: " + err.message, true);
    }
  }

  function loadDashboard() {
    const days = byId("dashboard-days").value;
    byId("dashboard-frame").src = "/monitor/report" + (days ? `?days=${days}` : "");
    status("dashboard-status", "");
  }

  byId("reviewer").value = localStorage.getItem(REVIEWER) || "";
  byId("reviewer").addEventListener("change", () => {
    localStorage.setItem(REVIEWER, byId("reviewer").value.trim());
  });
  byId("refresh-review").addEventListener("click", loadReview);
  byId("refresh-dashboard").addEventListener("click", loadDashboard);
  byId("dashboard-days").addEventListener("change", loadDashboard);
  document.querySelectorAll("nav .tab").forEach((tab) => tab.addEventListener("click", () => {
    if (tab.dataset.view === "review") loadReview();
    if (tab.dataset.view === "dashboard") loadDashboard();
  }));
})();
