from ragloop.ingest.clean import DuplicateFilter, normalize_text

BASE = ("the committee approved the new budget for public libraries after a long debate "
        "about funding for rural branches and digital lending services")


def test_normalize_text():
    raw = "ﬁne\u00a0 print\r\n\r\n\r\n\r\ntab\there\u200b  \x07end  "
    assert normalize_text(raw) == "fine print\n\ntab here end"


def test_exact_and_near_duplicates():
    dedup = DuplicateFilter(threshold=0.8)

    def check(doc_id, text, text_hash):
        signature = dedup.signature(text)
        found = dedup.check(doc_id, text_hash, signature)
        if found is None:
            dedup.remember(doc_id, text_hash, signature)
        return found

    assert check("a", BASE, "h-a") is None
    exact = check("b", BASE, "h-a")
    assert (exact.of, exact.kind) == ("a", "exact")
    near = check("c", BASE + " today", "h-c")
    assert (near.of, near.kind) == ("a", "near")
    assert check("d", "penguins huddle on the ice to keep warm in winter storms", "h-d") is None
    assert check("a", BASE, "h-a") is None  # a document is no copy of itself


def test_signatures_survive_the_trip_through_metadata():
    dedup = DuplicateFilter(threshold=0.8)
    encoded = dedup.encode(dedup.signature(BASE))
    fresh = DuplicateFilter(threshold=0.8)
    fresh.remember("old", "h-old", fresh.decode(encoded))
    found = fresh.check("new", "h-new", fresh.signature(BASE + " indeed"))
    assert (found.of, found.kind) == ("old", "near")
    assert DuplicateFilter(num_perm=32).decode(encoded) is None
