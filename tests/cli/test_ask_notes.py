"""`ragloop ask` says why citation markers were removed (issue 15 item 6), in words."""

from ragloop.cli.ask_cmds import dropped_markers_note


def test_dropped_markers_are_explained():
    note = dropped_markers_note([10], 5)
    assert note == ("(removed citation marker [10]: the model cited a source it was not "
                    "given; it had 5 sources, [1]–[5])")
    assert "markers [6], [9]" in dropped_markers_note([6, 9], 1)
    assert "given no sources" in dropped_markers_note([1], 0)
