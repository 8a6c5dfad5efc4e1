"""An in-memory ``Store`` test double (named as a fake) for orchestration tests of ingestion.
Writes are staged per writer and applied on ``commit()``, like the real store; ``fail_on``
makes the N-th commit raise, to simulate a crash mid-run."""

from __future__ import annotations

import numpy as np

from ragloop.errors import StoreError
from ragloop.index.store import DocumentEntry


class FakeStore:
    def __init__(self, fail_on_commit: int | None = None):
        self.docs: dict[str, tuple] = {}  # doc id → (document, chunks, vectors, questions)
        self.commits = 0
        self.fail_on_commit = fail_on_commit
        self.info: dict = {}

    def writer(self):
        return FakeWriter(self)

    def documents(self):
        for document, chunks, _, questions in self.docs.values():
            yield _entry(document, chunks, questions)

    def index_info(self):
        return dict(self.info)

    def chunks(self):
        return [c for _, chunks, _, _ in self.docs.values() for c in chunks]

    def questions(self):
        return [q for _, _, _, questions in self.docs.values() for q in questions]

    def lexical_search(self, query, k, filters=None, *, target="chunks"):
        words = set(query.lower().split())
        items = self.chunks() if target == "chunks" else self.questions()
        scored = [(item.id, len(words & set((getattr(item, "lexical_text", "")
                                              or item.text).lower().split())))
                  for item in items]
        return sorted([s for s in scored if s[1]], key=lambda s: -s[1])[:k]


def _entry(document, chunks, questions):
    return DocumentEntry(doc_id=document.id, source=document.source,
                         content_hash=document.content_hash, title=document.title,
                         mtime=document.mtime, n_chunks=len(chunks), n_questions=len(questions),
                         metadata=dict(document.metadata), bookkeeping=document.bookkeeping)


class FakeWriter:
    def __init__(self, store: FakeStore):
        self.store = store
        self.staged: list[tuple] = []

    def replace_document(self, document, chunks, chunk_vectors, questions=(),
                         question_vectors=None):
        vectors = np.asarray(chunk_vectors)
        if len(vectors) != len(chunks):
            raise StoreError(f"{document.id}: {len(vectors)} vectors for {len(chunks)} chunks")
        if questions and (question_vectors is None or len(question_vectors) != len(questions)):
            raise StoreError(f"{document.id}: question vectors do not match")
        self.staged.append(("put", document, list(chunks), vectors, list(questions)))

    def delete_document(self, doc_id):
        self.staged.append(("delete", doc_id))

    def set_bookkeeping(self, doc_id, bookkeeping):
        self.staged.append(("bookkeeping", doc_id, bookkeeping))

    def entries(self, doc_ids):
        return {i: _entry(self.store.docs[i][0], self.store.docs[i][1],
                          self.store.docs[i][3]) for i in doc_ids if i in self.store.docs}

    def set_index_info(self, **info):
        self.staged.append(("info", info))

    def commit(self):
        self.store.commits += 1
        if self.store.commits == self.store.fail_on_commit:
            self.staged = []
            raise StoreError("simulated crash during commit")
        for op in self.staged:
            if op[0] == "put":
                _, document, chunks, vectors, questions = op
                self.store.docs[document.id] = (document, chunks, vectors, questions)
            elif op[0] == "bookkeeping":
                if op[1] in self.store.docs:
                    document, *rest = self.store.docs[op[1]]
                    self.store.docs[op[1]] = (document.model_copy(
                        update={"bookkeeping": op[2]}), *rest)
            elif op[0] == "info":
                self.store.info.update(op[1])
                self.store.info = {k: v for k, v in self.store.info.items() if v is not None}
            else:
                self.store.docs.pop(op[1], None)
        self.staged = []

    def rollback(self):
        self.staged = []
