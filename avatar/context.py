"""The app's long-lived parts, wired once at startup and handed to every tab."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from sqlalchemy.engine import Engine

from avatar.chat.flows import ChatFlow
from avatar.conversations.service import ConversationService
from avatar.core.db import open_database
from avatar.core.settings import Settings
from avatar.expressions.classifier import ExpressionClassifier
from avatar.expressions.service import MoodService
from avatar.expressions.sprites import SpriteStore
from avatar.llm.base import ChatProvider, GenerationOptions
from avatar.llm.factory import make_provider
from avatar.llm.model_choice import ModelChoice, startup_model
from avatar.memory.card_schedule import CardSchedule
from avatar.memory.distill import CardDistiller
from avatar.memory.embedder import Embedder
from avatar.memory.service import MemoryService
from avatar.personas.service import PersonaService
from avatar.profile.service import ProfileService
from avatar.scenes.flows import SceneFlow
from avatar.scenes.service import SceneService
from avatar.worlds.service import WorldService

# A stop during the embedding model's warm-up waits this long for it at most (see Embedder.finish_warm_up).
WARM_UP_WAIT_S = 30.0


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    personas: PersonaService
    profile: ProfileService
    conversations: ConversationService
    provider: ChatProvider
    memory: MemoryService
    chat: ChatFlow
    model_choice: ModelChoice
    cards: CardSchedule
    faces: SpriteStore
    moods: MoodService
    worlds: WorldService
    scenes: SceneFlow

    def use_model(self, model: str) -> None:
        """The Chat tab's model picker: the following turns (and memory cards) use `model`, except for
        characters with a model of their own; remembered for the next start. AvatarError: it could not
        be remembered (it is still used until the app stops)."""
        self.provider.model = model  # memory cards follow: their distiller asks the provider's current model
        self.model_choice.save(self.settings.provider, model)

    def warm_up(self) -> None:
        """Load the heavy models in the background (after the first page is served, never before)."""
        self.memory.embedder.start_warm_up()
        # Memory cards a stop or a crash left pending are made when the model server is free.
        self.cards.catch_up()
        self.chat.catch_up_memory(self.scenes.remember_left_over)  # and the chunks a stop came before
        self.cards.start()
        self.memory.schedule_line_index()  # memories stored before lines had vectors of their own
        # Cards imported by `app.py import-card` (no memory there) or edited by hand: lore catches up.
        for persona in self.personas.list():
            self.memory.schedule_lore_sync(persona.id, partial(self.personas.lore, persona.id))
        for world in self.worlds.list():  # imported by `app.py import-world` (no memory there)
            self.memory.schedule_world_lore_sync(world.id, partial(self.worlds.lore, world.id))

    def close(self, wait_for_warm_up: bool = True) -> None:
        """Stop the background work (the memory write under way finishes). `wait_for_warm_up`: first let a warm-up
        under way end (a few seconds when stopped during it); the app, which leaves at once instead
        (app.leave_while_models_load), says False."""
        if wait_for_warm_up:
            self.memory.embedder.finish_warm_up(WARM_UP_WAIT_S)
        self.cards.close()
        self.memory.close()


def create_context(settings: Settings, embedder: Embedder | None = None) -> AppContext:
    """`embedder`: share an already loaded model (tests, benchmarks); by default one is made, loaded lazily."""
    settings.ensure_dirs()
    engine = open_database(settings.db_path)
    personas = PersonaService(settings.builtin_personas_dir, settings.user_personas_dir)
    profile = ProfileService.for_data_dir(settings.data_dir, settings.user_name)
    conversations = ConversationService(engine)
    provider = make_provider(settings)
    model_choice = ModelChoice.for_data_dir(settings.data_dir)
    provider.model = startup_model(settings, model_choice)
    embedder = embedder or Embedder(settings.embedding_model, cache_dir=settings.models_dir / "embeddings")
    # Cards come from the chat model through the provider's structured output (any server), with the chat's
    # own options: one num_ctx for every request, or Ollama reloads the model between chat and cards.
    distiller = CardDistiller(provider, GenerationOptions.from_settings(settings))
    memory = MemoryService(engine, embedder, distiller)
    personas.lore_listeners.append(
        lambda persona_id: memory.schedule_lore_sync(persona_id, partial(personas.lore, persona_id))
    )
    moods = MoodService(engine)
    worlds = WorldService(engine)
    worlds.lore_listeners.append(
        lambda world_id: memory.schedule_world_lore_sync(world_id, partial(worlds.lore, world_id))
    )
    expressions = ExpressionClassifier(embedder)
    chat = ChatFlow(settings, personas, profile, conversations, provider, memory, expressions=expressions, moods=moods)
    scenes = SceneFlow(chat, SceneService(engine, personas, worlds), worlds)
    chat.cards = CardSchedule(
        memory,
        lambda conversation_id: scenes.card_job(conversation_id) or chat.card_job(conversation_id),
        chat.registry.any_active,
        idle_s=settings.card_idle_s,
        after_batch=chat.rewarm,
    )
    faces = SpriteStore(personas)
    return AppContext(
        settings,
        engine,
        personas,
        profile,
        conversations,
        provider,
        memory,
        chat,
        model_choice,
        chat.cards,
        faces,
        moods,
        worlds,
        scenes,
    )
