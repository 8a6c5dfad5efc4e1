import json

from fakes import fake_llm
from ragloop.evals.synth import copies_verbatim, synthesize
from ragloop.index.store import DocumentEntry
from ragloop.records import Chunk

TEXTS = {
    "paris": "Paris is the capital and largest city of France. The city lies on the river "
             "Seine in the north of the country and has about two million inhabitants. It "
             "is known for its museums, its architecture and its cafes.",
    "berlin": "Berlin is the capital and largest city of Germany. The city lies on the river "
              "Spree in the east of the country and has about three million inhabitants. It "
              "is known for its history, its music scene and its parks.",
    "rome": "Rome is the capital of Italy and lies on the river Tiber in the centre of the "
            "peninsula. The city has almost three million inhabitants and is known for its "
            "ancient ruins, its churches and its fountains.",
    "madrid": "Madrid is the capital of Spain and lies on the river Manzanares in the centre "
              "of the country. The city has about three million inhabitants and is known for "
              "its art galleries, its royal palace and its parks.",
    "paris2": "Paris, the capital of France, is its largest city. It lies on the river Seine "
              "in the north of the country, with about two million inhabitants, and is known "
              "for its museums, its architecture and its cafes.",
    "tiny": "Too short to ask about.",
}
# what the fake model writes for each chunk: two good, one verbatim copy, one ungrounded,
# one duplicate
OUTPUTS = {
    "paris": ("On which river does the French capital lie?", "the river Seine"),
    "berlin": ("The city lies on the river Spree in the east of the country?", "Spree"),
    "rome": ("Who painted the Mona Lisa?", "Leonardo da Vinci"),
    "madrid": ("On which river does the Spanish capital lie?", "the river Manzanares"),
    "paris2": ("On which river does the French capital lie?", "the river Seine"),
}


class FakeStore:
    """Just the Store methods synthesis reads: documents() and get_chunks()."""

    def documents(self):
        for doc in TEXTS:
            yield DocumentEntry(doc_id=doc, source=f"{doc}.md", content_hash="h", title=doc,
                                mtime=None, n_chunks=1, n_questions=0)

    def get_chunks(self, ids):
        return [Chunk(id=i, doc_id=i.split("#")[0], ordinal=0, text=TEXTS[i.split("#")[0]])
                for i in ids]


def responder(messages, params, schema):
    prompt = messages[-1].content
    doc = next(d for d in OUTPUTS if TEXTS[d][:40] in prompt)
    question, answer = OUTPUTS[doc]
    return json.dumps({"question": question, "answer": answer})


def test_synth_keeps_only_grounded_new_non_verbatim_pairs():
    report = synthesize(FakeStore(), fake_llm(responder), n=10, seed=3)
    assert sorted(e.question for e in report.examples) == [OUTPUTS["paris"][0],
                                                          OUTPUTS["madrid"][0]]
    assert report.rejected == {"verbatim": 1, "ungrounded": 1, "duplicate": 1,
                               "short-chunk": 1}
    assert report.attempts == 5
    kept = next(e for e in report.examples if "Spanish" in e.question)
    assert kept.gold_chunk_ids == ("madrid#0",) and kept.gold_doc_ids == ("madrid",)
    assert kept.reference_answers == ("the river Manzanares",) and "synthetic" in kept.tags


def test_synth_stops_at_n():
    report = synthesize(FakeStore(), fake_llm(responder), n=1, seed=3)
    assert len(report.examples) == 1


def test_synth_counts_unparseable_output_as_malformed():
    report = synthesize(FakeStore(), fake_llm("no json"), n=2)
    assert report.examples == [] and report.rejected["malformed"] == 5


def test_verbatim_detection():
    assert copies_verbatim("The city lies on the river Seine in the north of which land?",
                           TEXTS["paris"])
    assert not copies_verbatim("Which river flows through Paris?", TEXTS["paris"])
