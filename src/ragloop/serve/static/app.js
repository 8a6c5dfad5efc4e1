"use strict";
// ragloop's page: ask (streamed), open a citation's chunk, rate or correct the answer,
// browse recent traces with their feedback, and view the latest eval report. No libraries.

const $ = (id) => document.getElementById(id);
const KEY = "ragloop.apiKey";
let current = null; // the last answer payload (trace_id, answer, citations, chunks)

// The key is never kept by the page: logging in (the 401 page's form, or Settings) posts it
// to /login once, and the server answers with an HttpOnly session cookie that every request
// of this page then carries. Nothing here puts the key in a URL.
localStorage.removeItem(KEY); // written by earlier versions of this page

async function api(path, options = {}) {
  const response = await fetch(path, options);
  if (!response.ok) throw new Error(await errorText(response));
  return response.json();
}

async function errorText(response) {
  try {
    const body = await response.json();
    return `${response.status}: ${body.error ? body.error.message : JSON.stringify(body)}`;
  } catch (_) {
    return `${response.status} ${response.statusText}`;
  }
}

function setStatus(id, text, isError = false) {
  $(id).textContent = text;
  $(id).classList.toggle("error", isError);
}

// ---- tabs
document.querySelectorAll("nav .tab").forEach((tab) => tab.addEventListener("click", () => {
  document.querySelectorAll("nav .tab").forEach((t) => t.classList.toggle("active", t === tab));
  document.querySelectorAll(".view").forEach((v) => { v.hidden = v.id !== "view-" + tab.dataset.view; });
  if (tab.dataset.view === "traces") loadTraces();
  if (tab.dataset.view === "report") loadReport();
}));

// ---- asking, streamed over server-sent events
async function* sseEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

$("ask-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  $("ask-button").disabled = true;
  $("answer-box").hidden = false;
  $("answer").textContent = "";
  $("citations").innerHTML = "";
  $("chunk").hidden = true;
  $("correct-form").hidden = true;
  setStatus("feedback-status", "");
  setRateEnabled(false);
  setStatus("status", "Thinking…");
  const body = { question, stream: true };
  if ($("mode").value) body.mode = $("mode").value;
  try {
    const response = await fetch("/v1/ask", {
      method: "POST", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    });
    if (!response.ok) throw new Error(await errorText(response));
    for await (const { event, data } of sseEvents(response)) {
      if (event === "delta") $("answer").textContent += data.text;
      else if (event === "answer") showAnswer(data);
      else if (event === "error") throw new Error(data.error.message);
    }
  } catch (err) {
    setStatus("status", "Failed: " + err.message, true);
  } finally {
    $("ask-button").disabled = false;
  }
});

function showAnswer(payload) {
  current = payload;
  renderAnswerText(payload.answer);
  const list = $("citations");
  list.innerHTML = "";
  for (const c of payload.citations) {
    const item = document.createElement("li");
    item.value = c.marker;
    const link = citeLink(c.marker);
    link.textContent = c.title || c.source || c.doc_id;
    item.appendChild(link);
    if (c.place) item.appendChild(document.createTextNode(` (${c.place})`));
    list.appendChild(item);
  }
  setRateEnabled(true);
  const secs = payload.latency_s ? ` in ${payload.latency_s.toFixed(1)} s` : "";
  setStatus("status", `Answered${secs} · ${payload.strategy} · trace ${payload.trace_id.slice(0, 8)}`);
}

function citeLink(marker) {
  const link = document.createElement("a");
  link.className = "cite";
  link.dataset.marker = marker;
  link.addEventListener("click", () => showChunk(marker));
  return link;
}

function renderAnswerText(text) {
  // "[n]" markers become links to the cited chunk; everything else stays plain text
  const box = $("answer");
  box.textContent = "";
  const known = new Set((current ? current.citations : []).map((c) => c.marker));
  let last = 0;
  for (const m of text.matchAll(/\[(\d+)\]/g)) {
    const marker = Number(m[1]);
    if (!known.has(marker)) continue;
    box.appendChild(document.createTextNode(text.slice(last, m.index)));
    const link = citeLink(marker);
    link.textContent = m[0];
    box.appendChild(link);
    last = m.index + m[0].length;
  }
  box.appendChild(document.createTextNode(text.slice(last)));
}

function showChunk(marker) {
  const citation = current.citations.find((c) => c.marker === marker);
  const chunk = current.chunks.find((c) => c.chunk_id === citation.chunk_id) || {};
  $("chunk-title").textContent = `[${marker}] ${citation.title || chunk.title || ""}`;
  const place = citation.place ? ` · ${citation.place}` : "";
  $("chunk-source").textContent = (citation.source || chunk.source || citation.doc_id) + place;
  $("chunk-text").textContent = chunk.text || citation.quote || "(chunk text not recorded)";
  $("chunk").hidden = false;
}
$("chunk-close").addEventListener("click", () => { $("chunk").hidden = true; });

// ---- feedback
function setRateEnabled(on) {
  for (const id of ["thumb-up", "thumb-down", "edit"]) {
    $(id).disabled = !on;
    $(id).classList.remove("chosen");
  }
}

async function sendFeedback(payload, doneText) {
  try {
    await api("/v1/feedback", {
      method: "POST", body: JSON.stringify({ trace_id: current.trace_id, ...payload }),
      headers: { "Content-Type": "application/json" },
    });
    setStatus("feedback-status", doneText);
    return true;
  } catch (err) {
    setStatus("feedback-status", "Not saved: " + err.message, true);
    return false;
  }
}

for (const [id, rating] of [["thumb-up", "up"], ["thumb-down", "down"]]) {
  $(id).addEventListener("click", async () => {
    if (await sendFeedback({ rating }, `Thanks: rated ${rating}.`)) {
      $("thumb-up").classList.toggle("chosen", rating === "up");
      $("thumb-down").classList.toggle("chosen", rating === "down");
    }
  });
}

$("edit").addEventListener("click", () => {
  $("correction").value = current.answer;
  $("correct-form").hidden = false;
  $("correction").focus();
});
$("cancel-correction").addEventListener("click", () => { $("correct-form").hidden = true; });
$("correct-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const corrected = $("correction").value.trim();
  if (!corrected) return;
  if (await sendFeedback({ corrected_answer: corrected }, "Correction saved.")) {
    current.answer = corrected;
    renderAnswerText(corrected);
    $("correct-form").hidden = true;
  }
});

// ---- traces
function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function short(text, n = 90) {
  return text.length > n ? text.slice(0, n - 1) + "…" : text;
}

async function loadTraces() {
  const tbody = document.querySelector("#traces tbody");
  try {
    const { traces } = await api("/v1/traces?limit=50");
    tbody.innerHTML = "";
    for (const t of traces) {
      const tr = document.createElement("tr");
      const marks = [t.rating === "up" ? "▲ good" : t.rating === "down" ? "▼ bad" : "",
        t.corrected_answer ? "✎ corrected" : "",
        t.feedback.some((f) => f.comment) ? "commented" : ""].filter(Boolean).join(" · ");
      const when = new Date(t.created).toLocaleString();
      const latency = t.metadata.wall_s !== undefined ? `${t.metadata.wall_s.toFixed(2)} s` : "";
      for (const text of [when, short(t.question), short(t.corrected_answer || t.answer),
        t.strategy, latency, marks]) tr.appendChild(cell(text));
      tr.addEventListener("click", () => {
        $("trace-detail").hidden = false;
        $("trace-detail").textContent = JSON.stringify(t, null, 2);
      });
      tbody.appendChild(tr);
    }
    if (!traces.length) tbody.innerHTML = "<tr><td colspan=6>No traces yet.</td></tr>";
  } catch (err) {
    tbody.innerHTML = "";
    const tr = document.createElement("tr");
    tr.appendChild(cell("Failed: " + err.message));
    tbody.appendChild(tr);
  }
}
$("refresh-traces").addEventListener("click", loadTraces);

// ---- eval report
async function loadReport() {
  try {
    const info = await api("/v1/reports/latest");
    if (!info.available) {
      setStatus("report-status", "No eval report yet: run `ragloop eval` to write one.");
      $("report-frame").hidden = true;
      return;
    }
    setStatus("report-status", "Run " + info.run);
    $("report-frame").src = info.url; // the session cookie opens it
    $("report-frame").hidden = false;
  } catch (err) {
    setStatus("report-status", "Failed: " + err.message, true);
  }
}

// ---- settings
$("save-key").addEventListener("click", async () => {
  const key = $("api-key").value.trim();
  $("api-key").value = "";
  const response = await fetch(key ? "/login" : "/logout", {
    method: "POST", body: new URLSearchParams(key ? { api_key: key } : {}),
    redirect: "manual",
  });
  const ok = response.type === "opaqueredirect" || response.ok;
  setStatus("key-status", ok ? (key ? "Logged in." : "Logged out.") : "Wrong API key.", !ok);
});
