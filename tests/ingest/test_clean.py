from ragloop.ingest.clean import DuplicateFilter, normalize_text

BASE = ("the committee approved the new budget for public libraries after a long debate "
        "about funding for rural branches and digital lending services")


def test_normalize_text():
    raw = "ﬁne\u00a0 print\r\n\r\n\r\n\r\ntab\there\u200b  \x07end  "
    assert normalize_text(raw) == "fine print\n\ntab here end"


def test_exact_and_near_duplicates():
    dedup = DuplicateFilter(threshold=0.8)
    assert dedup.check("a", BASE, "h-a") is None
    exact = dedup.check("b", BASE, "h-a")
    assert (exact.of, exact.kind) == ("a", "exact")
    near = dedup.check("c", BASE + " today", "h-c")
    assert (near.of, near.kind) == ("a", "near")
    assert dedup.check("d", "penguins huddle on the ice to keep warm in winter storms",
                       "h-d") is None


def test_known_hash_of_an_indexed_document():
    dedup = DuplicateFilter()
    dedup.remember_hash("old", "h1")
    assert dedup.check("new", "some text", "h1").of == "old"
    assert dedup.check("old", "some text", "h1") is None  # a document is no copy of itself
