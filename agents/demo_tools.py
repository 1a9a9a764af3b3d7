"""The default agent's demo tools: fast read-only, slow with progress, side-effecting with
an undo, and irreversible behind a person's approval."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from agents.toolkit import ToolContext, chat_tool

_DOCS = [
    "Temporal workflows are durable: their state survives worker and server restarts.",
    "Activities do the I/O; a heartbeating activity learns of cancellation promptly.",
    "chatstop runs every chat turn as one Temporal workflow execution.",
    "Stop cancels the turn: the model stream is closed and running tools are stopped.",
    "Rollback runs each side-effecting tool's compensator in reverse order.",
    "LangGraph graphs describe the agent; each model and tool call is its own activity.",
    "The Temporal Web UI shows every turn, its activities and who stopped it.",
    "Workflow Streams carry tokens from activities to the API with low latency.",
]


@chat_tool
def search_docs(query: str, ctx: ToolContext) -> str:
    """Search the product documentation. Fast and read-only."""
    words = {w.lower() for w in query.split() if len(w) > 2}
    scored = sorted(_DOCS, key=lambda doc: -sum(w in doc.lower() for w in words))
    return "\n".join(f"- {doc}" for doc in scored[:3])


@chat_tool
def generate_report(topic: str, ctx: ToolContext, seconds: int = 10) -> str:
    """Write a report on a topic. Slow: takes `seconds` and reports progress every second."""
    for step in range(1, seconds + 1):
        ctx.sleep(1.0)
        ctx.progress(f"{topic}: section {step}/{seconds} written")
    return f"Report on {topic}: {seconds} sections written."


def _tickets_db(data_dir: Path) -> sqlite3.Connection:
    data_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(data_dir / "tickets.sqlite", timeout=10)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY, title TEXT NOT NULL,"
        " idempotency_key TEXT NOT NULL UNIQUE, created_at TEXT DEFAULT CURRENT_TIMESTAMP)"
    )
    return conn


def delete_ticket(title: str, ctx: ToolContext) -> str:
    """Compensator of create_ticket: delete the ticket made under this idempotency key."""
    with closing(_tickets_db(ctx.data_dir)) as conn, conn:
        deleted = conn.execute(
            "DELETE FROM tickets WHERE idempotency_key = ?", (ctx.idempotency_key,)
        ).rowcount
    return f"deleted ticket {title!r}" if deleted else f"no ticket {title!r} existed"


@chat_tool(compensate=delete_ticket)
def create_ticket(title: str, ctx: ToolContext) -> str:
    """Create a support ticket with the given title."""
    with closing(_tickets_db(ctx.data_dir)) as conn, conn:
        # The idempotency key makes a retried activity attempt find the same ticket.
        conn.execute(
            "INSERT OR IGNORE INTO tickets (title, idempotency_key) VALUES (?, ?)",
            (title, ctx.idempotency_key),
        )
        row = conn.execute(
            "SELECT id FROM tickets WHERE idempotency_key = ?", (ctx.idempotency_key,)
        ).fetchone()
    return f"ticket #{row[0]} created: {title}"


@chat_tool(needs_approval=True, irreversible=True)
def send_email(to: str, subject: str, ctx: ToolContext) -> str:
    """Send an email. Needs a person's approval first, and cannot be taken back."""
    with closing(_tickets_db(ctx.data_dir)) as conn, conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS sent_emails (idempotency_key TEXT PRIMARY KEY,"
            " recipient TEXT NOT NULL, subject TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT OR IGNORE INTO sent_emails VALUES (?, ?, ?)",
            (ctx.idempotency_key, to, subject),
        )
    return f"email to {to} sent: {subject}"


def sent_emails(data_dir: Path) -> list[tuple[str, str]]:
    """For tests and the demo: (recipient, subject) of every email sent."""
    with closing(_tickets_db(data_dir)) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS sent_emails (idempotency_key TEXT PRIMARY KEY,"
            " recipient TEXT NOT NULL, subject TEXT NOT NULL)"
        )
        return [(r, s) for r, s in conn.execute("SELECT recipient, subject FROM sent_emails")]


def count_tickets(data_dir: Path) -> int:
    """For tests and the demo: how many tickets exist."""
    with closing(_tickets_db(data_dir)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0])


DEMO_TOOLS = [search_docs, generate_report, create_ticket, send_email]
