import json

from ragloop.answer.json_stream import FieldStreamer


def feed_all(pieces):
    streamer = FieldStreamer("answer")
    return "".join(streamer.feed(p) for p in pieces), streamer


def test_field_is_decoded_as_it_arrives_whatever_the_split():
    value = 'Use "backend" = openai\\n then \u00e9 and a \\\\ slash'
    raw = json.dumps({"answer": value, "sources": [1, 2]})
    for size in (1, 2, 3, 7, len(raw)):
        pieces = [raw[i:i + size] for i in range(0, len(raw), size)]
        text, streamer = feed_all(pieces)
        assert text == value, size
        assert streamer.done


def test_nothing_is_shown_before_the_field_or_after_it_closes():
    streamer = FieldStreamer("answer")
    assert streamer.feed('{"sources": [1], ') == ""
    assert streamer.feed('"answer": "ab') == "ab"
    assert streamer.feed('c", "x": "not shown"}') == "c"
    assert streamer.feed("more") == ""


def test_unterminated_field_yields_what_was_written():
    text, streamer = feed_all(['{"answer": "cut off here'])
    assert text == "cut off here" and not streamer.done
