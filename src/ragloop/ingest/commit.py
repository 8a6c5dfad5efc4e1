"""The commit stage of ingestion: the one writer. A batch of processed documents (and
deletions) goes to the store in one transaction; counts reach the report only once the
commit succeeded, so a report says what this run actually wrote.

Concurrent runs: another ingest may have committed the same document since this run planned
it. Inside the write transaction each document is checked against the store as it is now;
one already there with the same content and fingerprint is counted as unchanged (and not
written again), so two concurrent ingests of the same files do not both report them added.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ragloop.index.store import Store
from ragloop.ingest.plan import Planned
from ragloop.ingest.process import Processed
from ragloop.records import Bookkeeping


@dataclass
class Committed:
    documents: int = 0
    chunks: int = 0
    characters: int = 0
    removed: list[str] = field(default_factory=list)


def commit_batch(store: Store, items: Sequence[tuple[Planned, Processed]],
                 deletions: Sequence[str], *, fingerprint: str,
                 index_info: dict | None = None,
                 refreshes: Sequence[tuple[str, Bookkeeping]] = ()) -> Committed:
    """Write ``items``, ``deletions`` and ``refreshes`` (new bookkeeping for unchanged
    documents) in one transaction; update each item's file result after the commit. Raises
    what the store raises (nothing of the batch is then written)."""
    writer = store.writer()
    written: list[tuple[Planned, Processed]] = []
    already: list[Planned] = []
    try:
        current = writer.entries([p.document.id for p, _ in items]) if items else {}
        for planned, processed in items:
            document = planned.document
            now = current.get(document.id)
            if now is not None and now.content_hash == document.content_hash \
                    and now.bookkeeping.ingest is not None \
                    and now.bookkeeping.ingest.fingerprint == fingerprint:
                already.append(planned)  # another run committed it since we planned
                continue
            if planned.duplicate_of is not None:
                document = document.model_copy(update={"metadata": {
                    **document.metadata, "duplicate_of": planned.duplicate_of}})
            writer.replace_document(document, processed.chunks, processed.chunk_vectors,
                                    processed.questions,
                                    processed.question_vectors if processed.questions else None)
            written.append((planned, processed))
        for doc_id in deletions:
            writer.delete_document(doc_id)
        for doc_id, bookkeeping in refreshes:
            writer.set_bookkeeping(doc_id, bookkeeping)
        if index_info is not None and (written or deletions):
            writer.set_index_info(**index_info)
        writer.commit()
    except BaseException:
        writer.rollback()
        raise
    done = Committed(removed=list(deletions))
    for planned, processed in written:  # counted once they are committed
        result = planned.result
        if planned.duplicate_of is not None:
            result.duplicates += 1
        setattr(result, planned.status, getattr(result, planned.status) + 1)
        result.chunks += len(processed.chunks)
        result.questions += len(processed.questions)
        done.documents += 1
        done.chunks += len(processed.chunks)
        done.characters += len(planned.document.text)
    for planned in already:
        planned.result.unchanged += 1
        done.characters += len(planned.document.text)
    return done

