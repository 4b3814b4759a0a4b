"""Memory fixtures: the real embedding model (loaded once per session), a real SQLite file, the services."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from avatar.conversations.schemas import MessageStatus
from avatar.conversations.service import ConversationService
from avatar.core.db import open_database
from avatar.llm.ollama import OllamaProvider
from avatar.memory.distill import CardDistiller
from avatar.memory.embedder import Embedder
from avatar.memory.service import MemoryService
from tests.conftest import packaged_embedding_model_dir
from tests.support.fake_model_server import FakeModelServer

NO_CARDS = json.dumps({"cards": []})


def model_dir() -> Path:
    return Path(packaged_embedding_model_dir())


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_database(tmp_path / "avatar.db")


@pytest.fixture
def conversations(engine: Engine) -> ConversationService:
    return ConversationService(engine)


@pytest.fixture
def memory(engine: Engine, embedder: Embedder, fake_ollama: FakeModelServer) -> Iterator[MemoryService]:
    fake_ollama.default_reply = NO_CARDS
    provider = OllamaProvider(fake_ollama.url, "llama3.2:3b", timeout_s=10)
    service = MemoryService(engine, embedder, CardDistiller(provider))
    yield service
    service.close()


def cards_json(*cards: dict[str, object]) -> str:
    return json.dumps({"cards": list(cards)})


def card(text: str, type: str = "fact", scope: str = "profile", importance: float = 0.6) -> dict[str, object]:
    return {"type": type, "text": text, "scope": scope, "importance": importance, "reason": "said so"}


def converse(
    conversations: ConversationService,
    persona_id: str,
    exchanges: list[tuple[str, str]],
    conversation_id: str | None = None,
    greeting: str = "",
) -> str:
    """A saved conversation: each (user, reply) pair stored as the chat flow stores it."""
    if conversation_id is None:
        conversation_id = conversations.create(persona_id, greeting=greeting).id
    for user_text, reply in exchanges:
        conversations.add_user_message(conversation_id, user_text)
        conversations.add_reply(conversation_id, reply, MessageStatus.complete)
    return conversation_id
