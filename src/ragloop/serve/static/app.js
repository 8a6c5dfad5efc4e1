"use strict";
// ragloop's page: the chat (chat.js: threaded, streamed, cited, rated per turn),
// browse recent traces with their feedback, and view the latest eval report. No libraries.

const $ = (id) => document.getElementById(id);
const KEY = "ragloop.apiKey";

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

// ---- asking: the threaded chat is chat.js

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
