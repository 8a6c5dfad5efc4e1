"""``ragloop chat`` (a conversation at the prompt, kept in the project) and ``ragloop
conversations list|show|delete``. ``ragloop ask --conversation ID`` (``ask_cmds``) continues
one from the shell."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from ragloop.cli.ask_cmds import print_sources
from ragloop.cli.common import EXIT_USAGE, console, fail, state
from ragloop.errors import RagloopError

conversations_app = typer.Typer(help="Stored conversations: list, show and delete them.",
                                no_args_is_help=True)

HELP = ("Type a question; follow-ups are answered with the conversation. Commands: "
        "/sources (the last answer's sources), /new (start a new conversation), /exit.")


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)
    app.add_typer(conversations_app, name="conversations")


def stream_turn(pipeline, conversation_id: str | None, question: str, *, mode=None,
                strategy=None, show_text: bool = True):
    """Answer one turn (stored), its text printed as it streams; returns ``(id, answer)``."""
    reply = pipeline.chat_stream(conversation_id, question, mode=mode, strategy=strategy)
    answer = None
    for event in reply:
        if event.kind == "delta" and show_text:
            console.out(event.text, end="", highlight=False)
        elif event.kind == "answer":
            answer = event.answer
    return reply.conversation_id, answer


def chat(ctx: typer.Context,
         conversation: str | None = typer.Option(
             None, "--conversation", "-c", help="Continue this stored conversation."),
         mode: str | None = typer.Option(None, help="fast, slow or auto."),
         strategy: str | None = typer.Option(None, help="Force a strategy (see `ask`).")):
    """Talk with the documents: each answer streams; follow-ups are searched and answered with
    the conversation, which is kept in the project (`ragloop conversations list`). Reads
    questions from stdin, one a line, so it can be piped."""
    from ragloop.pipeline import Pipeline

    st = state(ctx)
    interactive = sys.stdin.isatty()
    if interactive:
        console.print(f"[dim]{escape(HELP)}[/]")
    try:
        with Pipeline(st.project, use_cache=st.use_cache) as pipeline:
            if conversation is not None:
                pipeline.conversations.get(conversation)  # unknown: fail before reading
            last = None
            while True:
                if interactive:
                    console.print("[bold]> [/]", end="")
                line = sys.stdin.readline()
                if not line:
                    break
                question = line.strip()
                if not question:
                    continue
                if question in ("/exit", "/quit"):
                    break
                if question == "/new":
                    conversation, last = None, None
                    console.print("[dim](a new conversation)[/]")
                    continue
                if question == "/sources":
                    if last is None:
                        console.print("[dim](no answer yet)[/]")
                    else:
                        print_sources(last)
                    continue
                if question.startswith("/"):
                    console.print(f"[dim]unknown command {escape(question)}. {escape(HELP)}[/]")
                    continue
                conversation, last = stream_turn(pipeline, conversation, question,
                                                 mode=mode, strategy=strategy)
                console.out("")
            if conversation is not None:
                console.print(f"[dim]conversation {conversation} (continue it with "
                              f"`ragloop chat -c {conversation}`)[/]", highlight=False)
    except RagloopError as err:
        fail(err)


@conversations_app.command("list")
def list_conversations(ctx: typer.Context,
                       limit: int = typer.Option(20, min=1, help="How many, newest first.")):
    """Stored conversations, the most recently continued first: id, turns, first question."""
    from ragloop.pipeline import Pipeline

    try:
        with Pipeline(state(ctx).project) as pipeline:
            found = pipeline.conversations.recent(limit)
    except RagloopError as err:
        fail(err)
    if not found:
        console.print("[dim](no conversations)[/]")
    for c in found:
        first = c.turns[0].question if c.turns else c.summary
        when = c.updated.strftime("%Y-%m-%d %H:%M") if c.updated else ""
        title = " ".join(first.split())[:70]
        console.print(escape(f"{c.id}  {when}  {len(c.turns)} turns  {title}"),
                      highlight=False)


@conversations_app.command("show")
def show_conversation(ctx: typer.Context, conversation_id: str = typer.Argument(...)):
    """A conversation's turns: question, what was searched, answer."""
    from ragloop.pipeline import Pipeline

    try:
        with Pipeline(state(ctx).project) as pipeline:
            found = pipeline.conversations.get(conversation_id)
    except RagloopError as err:
        fail(err)
    if found.summary:
        console.print(escape(f"(earlier: {found.summary})"), style="dim", highlight=False)
    for turn in found.turns:
        console.print(escape(f"> {turn.question}"), style="bold", highlight=False)
        if turn.search_query and turn.search_query != turn.question:
            console.print(escape(f"  searched: {turn.search_query}"), style="dim",
                          highlight=False)
        console.print(escape(turn.answer), highlight=False)


@conversations_app.command("delete")
def delete_conversation(ctx: typer.Context, conversation_id: str = typer.Argument(...)):
    """Delete a conversation (its turns' traces and feedback stay)."""
    from ragloop.pipeline import Pipeline

    if not conversation_id.strip():
        fail("give a conversation id (`ragloop conversations list`)", EXIT_USAGE)
    try:
        with Pipeline(state(ctx).project) as pipeline:
            pipeline.conversations.delete(conversation_id)
    except RagloopError as err:
        fail(err)
    console.print(f"deleted conversation {escape(conversation_id)}", highlight=False)
