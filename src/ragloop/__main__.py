"""`python -m ragloop`: the same as the `ragloop` command."""

from ragloop.cli import main

main()
