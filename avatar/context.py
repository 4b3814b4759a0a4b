"""The app's long-lived parts, wired once at startup and handed to every tab."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from avatar.chat.flows import ChatFlow
from avatar.conversations.service import ConversationService
from avatar.core.db import open_database
from avatar.core.settings import Settings
from avatar.llm.base import ChatProvider
from avatar.llm.factory import make_provider
from avatar.personas.service import PersonaService
from avatar.profile.service import ProfileService


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    personas: PersonaService
    profile: ProfileService
    conversations: ConversationService
    provider: ChatProvider
    chat: ChatFlow


def create_context(settings: Settings) -> AppContext:
    settings.ensure_dirs()
    engine = open_database(settings.db_path)
    personas = PersonaService(settings.builtin_personas_dir, settings.user_personas_dir)
    profile = ProfileService.for_data_dir(settings.data_dir, settings.user_name)
    conversations = ConversationService(engine)
    provider = make_provider(settings)
    chat = ChatFlow(settings, personas, profile, conversations, provider)
    return AppContext(settings, engine, personas, profile, conversations, provider, chat)
