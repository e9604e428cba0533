"""Central models of the agent and journal services.

``from models import metadata`` is what alembic_config migrates.
"""

from models.agent import AgentSession, SessionStatus
from models.base import SCHEMA, Base
from models.journal import EntryKind, EntryTag, JournalEntry

metadata = Base.metadata

__all__ = [
    "SCHEMA",
    "AgentSession",
    "Base",
    "EntryKind",
    "EntryTag",
    "JournalEntry",
    "SessionStatus",
    "metadata",
]
