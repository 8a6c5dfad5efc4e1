"use strict";
// The Ask view as a threaded chat: each question is a turn of the current conversation
// (POST /v1/chat with its conversation_id, streamed), shown with its sources, how it was
// answered (route, strategy, from cache, model calls) and its own feedback buttons. "New
// conversation" starts over; past conversations (GET /v1/conversations) reopen or delete.
// Uses app.js's $, api, errorText and setStatus. Answer text is only ever put in the page
// as text nodes: code fences and `code` become <pre>/<code> elements, never parsed HTML.

let conversationId = null;
const turns = new Map(); // trace_id → payload, for the chunk viewer

// ---- server-sent events
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

// ---- answer text: citations as links, code as code, all as text nodes
function citeLink(payload, marker) {
  const link = document.createElement("a");
  link.className = "cite";
  link.dataset.marker = marker;
  link.addEventListener("click", () => showChunk(payload, marker));
  return link;
}

function appendProse(parent, text, payload) {
  const known = new Set((payload.citations || []).map((c) => c.marker));
  const pieces = text.split(/(`[^`\n]+`)/);
  for (const piece of pieces) {
    if (piece.length > 2 && piece.startsWith("`") && piece.endsWith("`")) {
      const code = document.createElement("code");
      code.textContent = piece.slice(1, -1);
      parent.appendChild(code);
      continue;
    }
    let last = 0;
    for (const m of piece.matchAll(/\[(\d+)\]/g)) {
      const marker = Number(m[1]);
      if (!known.has(marker)) continue;
      parent.appendChild(document.createTextNode(piece.slice(last, m.index)));
      const link = citeLink(payload, marker);
      link.textContent = m[0];
      parent.appendChild(link);
      last = m.index + m[0].length;
    }
    parent.appendChild(document.createTextNode(piece.slice(last)));
  }
}

function renderAnswer(box, text, payload) {
  box.textContent = "";
  // ``` fences alternate prose and code; an unclosed fence runs to the end
  const parts = text.split(/```/);
  parts.forEach((part, i) => {
    if (i % 2 === 0) { appendProse(box, part, payload); return; }
    const pre = document.createElement("pre");
    const code = document.createElement("code");
    const newline = part.indexOf("\n");
    const lang = newline > 0 ? part.slice(0, newline).trim() : "";
    if (/^[\w+#.-]+$/.test(lang)) {
      code.dataset.lang = lang;
      part = part.slice(newline + 1);
    }
    code.textContent = part.replace(/\n$/, "");
    pre.appendChild(code);
    box.appendChild(pre);
  });
}

function metaText(payload) {
  const bits = [];
  const route = payload.route || {};
  bits.push(payload.strategy);
  if (route.mode) bits.push(`${route.mode}${route.reason ? ": " + route.reason : ""}`);
  if (payload.cached) bits.push("from cache");
  if (payload.model_calls !== undefined) {
    bits.push(`${payload.model_calls} model call${payload.model_calls === 1 ? "" : "s"}`);
  }
  if (payload.latency_s) bits.push(`${payload.latency_s.toFixed(1)} s`);
  if (payload.search_query && payload.search_query !== payload.question) {
    bits.push(`searched: ${payload.search_query}`);
  }
  return bits.filter(Boolean).join(" · ");
}

// ---- one turn
function newTurn(question) {
  const node = $("turn-template").content.firstElementChild.cloneNode(true);
  node.querySelector(".turn-question").textContent = question;
  setTurnRating(node, false);
  $("thread").appendChild(node);
  return node;
}

function fillTurn(node, payload) {
  turns.set(payload.trace_id, payload);
  node.dataset.traceId = payload.trace_id;
  renderAnswer(node.querySelector(".answer"), payload.answer, payload);
  const meta = node.querySelector(".turn-meta");
  meta.textContent = metaText(payload);
  node.classList.toggle("cached", Boolean(payload.cached));
  const list = node.querySelector(".citations");
  list.textContent = "";
  for (const c of payload.citations || []) {
    const item = document.createElement("li");
    item.value = c.marker;
    const link = citeLink(payload, c.marker);
    link.textContent = c.title || c.source || c.doc_id;
    item.appendChild(link);
    if (c.place) item.appendChild(document.createTextNode(` (${c.place})`));
    list.appendChild(item);
  }
  if (payload.trace_id) wireFeedback(node, payload);
}

function showChunk(payload, marker) {
  const citation = payload.citations.find((c) => c.marker === marker);
  const chunk = (payload.chunks || []).find((c) => c.chunk_id === citation.chunk_id) || {};
  $("chunk-title").textContent = `[${marker}] ${citation.title || chunk.title || ""}`;
  const place = citation.place ? ` · ${citation.place}` : "";
  $("chunk-source").textContent = (citation.source || chunk.source || citation.doc_id) + place;
  $("chunk-text").textContent = chunk.text || citation.quote || "(chunk text not recorded)";
  $("chunk").hidden = false;
}
$("chunk-close").addEventListener("click", () => { $("chunk").hidden = true; });

// ---- feedback, per turn
function setTurnRating(node, on) {
  for (const cls of ["thumb-up", "thumb-down", "edit"]) {
    node.querySelector("." + cls).disabled = !on;
    node.querySelector("." + cls).classList.remove("chosen");
  }
}

function wireFeedback(node, payload) {
  const status = (text, isError = false) => {
    const span = node.querySelector(".feedback-status");
    span.textContent = text;
    span.classList.toggle("error", isError);
  };
  const send = async (body, doneText) => {
    try {
      await api("/v1/feedback", {
        method: "POST", body: JSON.stringify({ trace_id: payload.trace_id, ...body }),
        headers: { "Content-Type": "application/json" },
      });
      status(doneText);
      return true;
    } catch (err) {
      status("Not saved: " + err.message, true);
      return false;
    }
  };
  setTurnRating(node, true);
  for (const [cls, rating] of [["thumb-up", "up"], ["thumb-down", "down"]]) {
    node.querySelector("." + cls).onclick = async () => {
      if (await send({ rating }, `Thanks: rated ${rating}.`)) {
        node.querySelector(".thumb-up").classList.toggle("chosen", rating === "up");
        node.querySelector(".thumb-down").classList.toggle("chosen", rating === "down");
      }
    };
  }
  const form = node.querySelector(".correct-form");
  const box = node.querySelector(".correction");
  node.querySelector(".edit").onclick = () => {
    box.value = payload.answer;
    form.hidden = false;
    box.focus();
  };
  node.querySelector(".cancel-correction").onclick = () => { form.hidden = true; };
  form.onsubmit = async (e) => {
    e.preventDefault();
    const corrected = box.value.trim();
    if (!corrected) return;
    if (await send({ corrected_answer: corrected }, "Correction saved.")) {
      payload.answer = corrected;
      renderAnswer(node.querySelector(".answer"), corrected, payload);
      form.hidden = true;
    }
  };
}

// ---- asking
$("ask-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  $("ask-button").disabled = true;
  $("chunk").hidden = true;
  $("question").value = "";
  const node = newTurn(question);
  const answerBox = node.querySelector(".answer");
  setStatus("status", "Thinking…");
  const body = { question, stream: true };
  if (conversationId) body.conversation_id = conversationId;
  if ($("mode").value) body.mode = $("mode").value;
  if ($("strategy").value) body.strategy = $("strategy").value;
  try {
    const response = await fetch("/v1/chat", {
      method: "POST", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    });
    if (!response.ok) throw new Error(await errorText(response));
    for await (const { event, data } of sseEvents(response)) {
      if (event === "delta") answerBox.textContent += data.text;
      else if (event === "answer") {
        conversationId = data.conversation_id || conversationId;
        fillTurn(node, data);
        const secs = data.latency_s ? ` in ${data.latency_s.toFixed(1)} s` : "";
        setStatus("status", `Answered${secs} · ${data.strategy} · trace ${data.trace_id.slice(0, 8)}`);
      } else if (event === "error") throw new Error(data.error.message);
    }
    loadConversations();
  } catch (err) {
    setStatus("status", "Failed: " + err.message, true);
  } finally {
    $("ask-button").disabled = false;
  }
});

function startConversation() {
  conversationId = null;
  $("thread").textContent = "";
  $("chunk").hidden = true;
  setStatus("status", "");
  markCurrent();
}
$("new-conversation").addEventListener("click", startConversation);

// ---- past conversations
function markCurrent() {
  for (const item of $("conversations").children) {
    item.classList.toggle("current", item.dataset.id === conversationId);
  }
}

async function openConversation(id) {
  try {
    const conversation = await api(`/v1/conversations/${encodeURIComponent(id)}`);
    startConversation();
    conversationId = conversation.id;
    for (const turn of conversation.turns) {
      // a stored turn: its answer, citations and trace (for feedback); no chunks or route
      fillTurn(newTurn(turn.question), {
        trace_id: turn.trace_id, question: turn.question, answer: turn.answer,
        citations: turn.citations, search_query: turn.search_query, chunks: [],
      });
    }
    markCurrent();
  } catch (err) {
    setStatus("status", "Failed: " + err.message, true);
  }
}

async function loadConversations() {
  try {
    const { conversations } = await api("/v1/conversations?limit=30");
    const list = $("conversations");
    list.textContent = "";
    for (const c of conversations) {
      const item = document.createElement("li");
      item.dataset.id = c.id;
      const open = document.createElement("a");
      open.className = "open-conversation";
      open.textContent = `${c.title} (${c.turns})`;
      open.addEventListener("click", () => openConversation(c.id));
      const remove = document.createElement("button");
      remove.className = "delete-conversation";
      remove.title = "Delete this conversation";
      remove.textContent = "×";
      remove.addEventListener("click", async () => {
        const response = await fetch(`/v1/conversations/${encodeURIComponent(c.id)}`,
          { method: "DELETE" });
        if (!response.ok) setStatus("status", "Failed: " + await errorText(response), true);
        if (c.id === conversationId) startConversation();
        loadConversations();
      });
      item.append(open, remove);
      list.appendChild(item);
    }
    markCurrent();
  } catch (_) {
    // not logged in yet: the list fills after the first answer
  }
}

async function loadStrategies() {
  try {
    const { strategies } = await api("/v1/strategies");
    for (const name of strategies) {
      const option = document.createElement("option");
      option.textContent = name;
      $("strategy").appendChild(option);
    }
  } catch (_) {
    // not logged in yet: the default strategy still works
  }
}

loadStrategies();
loadConversations();
