"""One turn of conversation, text or voice: save the user's words -> prompt -> stream -> save the reply.

The user's message is committed before the model is called, so it survives any model failure.
The reply is committed once it ends: complete, partial (Stop / barge-in / the task was cancelled)
or error (the model failed after saying something); a failure before the first token saves nothing
but the user's message, and the update says what went wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace

from avatar.chat.cancel import TurnRegistry, until_cancelled
from avatar.chat.notes import fresh_recall, join_notes, noted_history
from avatar.chat.schemas import TurnUpdate
from avatar.chat.speculation import Speculation
from avatar.conversations.schemas import MessageStatus
from avatar.conversations.service import ConversationService
from avatar.core.errors import NotFoundError
from avatar.core.logging import private
from avatar.core.settings import Settings
from avatar.expressions.classifier import ExpressionClassifier
from avatar.expressions.mood import prompt_line
from avatar.expressions.service import MoodService
from avatar.llm.base import ChatMessage, ChatProvider, GenerationOptions, ProviderError
from avatar.llm.prompt import BuiltPrompt, HistoryItem, apply_macros, build_prompt, first_kept, next_turn_prefix
from avatar.llm.stats import GenerationStats
from avatar.memory.card_schedule import CardJob, CardSchedule
from avatar.memory.line_vectors import note_ref
from avatar.memory.prompt import format_memories
from avatar.memory.schemas import RecalledMemory
from avatar.memory.service import MemoryService
from avatar.personas.schemas import Persona
from avatar.personas.service import PersonaService
from avatar.profile.service import ProfileService

log = logging.getLogger(__name__)

LABEL_WAIT_S = 1.5  # the longest a reply's last update waits for its expression label
_LABELS_IN_FLIGHT: set[asyncio.Task[str | None]] = set()
STATE_LINE_TOKENS = 48  # room kept for the mood line in this turn's note


@dataclass(frozen=True)
class Speaking:
    """How a reply in a scene differs from one in a one-character chat (avatar/scenes/flows.py makes it):
    its speaker, its own prompt, who remembers it, and a filter that keeps the reply to that speaker's lines.
    Scenes keep no mood (see README: faces show each reply's expression)."""

    speaker_id: str
    prompt: Callable[[], Awaitable[tuple[BuiltPrompt, list[HistoryItem], dict]]]  # as ChatFlow._prompt
    remember: Callable[[], None]
    guard: Callable[[AsyncIterator[str]], AsyncIterator[str]]


class ChatFlow:
    def __init__(
        self,
        settings: Settings,
        personas: PersonaService,
        profile: ProfileService,
        conversations: ConversationService,
        provider: ChatProvider,
        memory: MemoryService | None = None,
        registry: TurnRegistry | None = None,
        expressions: ExpressionClassifier | None = None,
        moods: MoodService | None = None,
    ) -> None:
        self.settings = settings
        self.personas = personas
        self.profile = profile
        self.conversations = conversations
        self.provider = provider
        self.memory = memory
        # What was recalled for the newest reply in each conversation ("what did you remember?").
        self.last_recall: dict[str, list[RecalledMemory]] = {}
        self.registry = registry or TurnRegistry()
        self.cards: CardSchedule | None = None  # set by the app: when memory cards are made
        # The newest exchange as the model server last saw it (conversation, model, messages with the reply):
        # what to put back into its cache after memory cards took it over.
        self._last_exchange: tuple[str, str, list[ChatMessage]] | None = None
        self.expressions = expressions
        self.moods = moods

    def generation_options(self) -> GenerationOptions:
        """The model options of every request to the model server (chat, preload, memory cards)."""
        return GenerationOptions.from_settings(self.settings)

    # -- the model server, ahead of need ---------------------------------------------------------
    def model_for(self, persona_id: str | None) -> str:
        persona = self.personas.get(persona_id) if persona_id else None
        return (persona.model if persona is not None else None) or self.provider.model

    async def preload(self, model: str) -> float | None:
        """Have the server load `model` now (seconds it took); None while a reply is being generated (a
        one-slot server would make that reply wait, and the model is loaded anyway)."""
        if self.registry.any_active():
            return None
        return await self.provider.preload(self.generation_options(), model)

    async def rewarm(self, conversation_id: str) -> None:
        """Put the newest exchange back into the server's cache (memory cards took it over meanwhile), so
        the next turn in this conversation does not evaluate all of it again."""
        if self._last_exchange is None or self._last_exchange[0] != conversation_id or self.registry.any_active():
            return
        _, model, messages = self._last_exchange
        try:
            seconds = await self.provider.preload(self.generation_options(), model, messages)
            log.info("model server cache warmed again for conversation=%s in %.1f s", conversation_id, seconds)
        except ProviderError as error:
            log.info("could not warm the model server's cache again: %s", error.message)

    def _prepare_next_turn(
        self,
        persona: Persona,
        conversation_id: str,
        model: str,
        prompt: BuiltPrompt,
        history: list[HistoryItem],
        layout: dict,
    ) -> None:
        """Remember what the next turn's prompt starts with; when the window moves for it (a trim), have the
        server evaluate that start now, while the person reads and types, instead of during the next turn."""
        prefix, start = next_turn_prefix(persona, history, **layout)
        self._last_exchange = (conversation_id, model, prefix)
        if start != prompt.dropped_messages and self.memory is not None:
            log.info("prompt window moves next turn: warming the model server's cache with it now")
            self.memory.writer.submit(("warm", conversation_id), lambda: self.rewarm(conversation_id))

    # -- memory cards: when ---------------------------------------------------------------------
    def opened(self, conversation_id: str | None) -> None:
        """The person opened this conversation (None: a new chat): conversations left get their cards now."""
        if self.cards is not None:
            self.cards.opened(conversation_id)

    def card_job(self, conversation_id: str) -> CardJob | None:
        """What making this conversation's cards needs (None: the conversation or its character is gone)."""
        try:
            conversation = self.conversations.get(conversation_id)
            persona = self.personas.get(conversation.persona_id)
        except NotFoundError:
            return None
        policy = persona.memory_policy if conversation.memory_enabled else "off"
        return CardJob(persona_id=persona.id, persona_name=persona.name, policy=policy)

    def catch_up_memory(self, elsewhere: Callable[[str], bool] | None = None) -> int:
        """At start: conversations whose memory write a stop cut short are written now (their cards when the
        model server is free). `elsewhere(conversation_id)`: True when another flow wrote it (a scene's
        witnesses). The number of conversations."""
        if self.memory is None:
            return 0
        due = self.memory.unwritten_conversations()
        for conversation_id in due:
            if elsewhere is not None and elsewhere(conversation_id):
                continue
            job = self.card_job(conversation_id)
            if job is None:
                continue
            self.memory.schedule_write(
                job.persona_id,
                conversation_id,
                policy=job.policy,
                persona_name=job.persona_name,
                user_name=self.profile.user_name(),
                defer_cards=self.cards is not None,
            )
            if self.cards is not None:
                self.cards.due(conversation_id)  # queued behind the write on the same thread
        if due:
            log.info("memory: writes left by the last run in %d conversations", len(due))
        return len(due)

    def greetings(self, persona: Persona) -> list[str]:
        """The greeting, then the alternate greetings (a card's "swipes"), macros filled; empty ones left out."""
        user = self.profile.user_name()
        texts = [persona.greeting, *persona.alternate_greetings]
        return [apply_macros(text, persona.name, user) for text in texts if text.strip()]

    def greeting(self, persona: Persona, index: int = 0) -> str:
        options = self.greetings(persona)
        return options[index % len(options)] if options else ""

    def start_conversation(self, persona_id: str, *, memory_enabled: bool = True, greeting_index: int = 0) -> str:
        """A new conversation that opens with the greeting the person chose (the first one unless they swiped)."""
        persona = self.personas.get(persona_id)
        greeting = self.greeting(persona, greeting_index)
        return self.conversations.create(persona.id, greeting=greeting, memory_enabled=memory_enabled).id

    def memory_enabled(self, conversation_id: str) -> bool:
        """The conversation's own memory switch (the persona's memory_policy is checked separately)."""
        try:
            return self.conversations.get(conversation_id).memory_enabled
        except NotFoundError:
            return False  # deleted meanwhile: nothing to recall into or remember

    async def send(
        self,
        persona_id: str,
        conversation_id: str | None,
        text: str,
        *,
        until_heard: Callable[[], Awaitable[None]] | None = None,
        speculation: Speculation | None = None,
    ) -> AsyncIterator[TurnUpdate]:
        """Answer `text` in the conversation (a new one, greeting first, when conversation_id is empty).

        `until_heard` (voice): awaited once the model is done; the reply stays stoppable and unsaved
        until it returns, so a barge-in while the user is still listening saves only what was heard.
        `speculation` (voice): the turn may still be withdrawn (see `Speculation`); no update says the
        user's words were saved until it is committed.
        """
        persona = self.personas.get(persona_id)
        if not conversation_id:
            conversation_id = self.start_conversation(persona.id)
        user_message = self.conversations.add_user_message(conversation_id, text)
        log.info("turn: conversation=%s persona=%s user=%s", conversation_id, persona.id, private(text))
        if speculation is None:
            # First update: the user's words are saved; screens can show them before the model answers.
            yield TurnUpdate(conversation_id=conversation_id, user_message_id=user_message.id)
        else:
            speculation.user_message_id = user_message.id
        try:
            async with contextlib.aclosing(self._answer(persona, conversation_id, until_heard, speculation)) as updates:
                async for update in updates:
                    update.user_message_id = user_message.id
                    yield update
        finally:
            self.settle(speculation)

    def settle(self, speculation: Speculation | None) -> None:
        """A speculative turn cancelled before its reply's own cleanup ran (while its prompt was being built,
        or a scene chose who answers) leaves no user message behind either."""
        if speculation is not None and speculation.discarded and speculation.user_message_id:
            self.conversations.withdraw_user_message(speculation.user_message_id)

    async def regenerate(self, conversation_id: str) -> AsyncIterator[TurnUpdate]:
        """Drop the newest reply and answer the user's last message again."""
        conversation = self.conversations.get(conversation_id)
        persona = self.personas.get(conversation.persona_id)
        question = self.conversations.drop_last_reply(conversation_id)
        if question is None:
            yield TurnUpdate(conversation_id=conversation_id, done=True, error="There is no reply to regenerate yet.")
            return
        async with contextlib.aclosing(self._answer(persona, conversation_id)) as updates:
            async for update in updates:
                update.user_message_id = question.id
                yield update

    def stop(self, conversation_id: str, spoken_text: str | None = None) -> bool:
        """Stop the reply being generated; with `spoken_text` (voice barge-in) save only that, as interrupted."""
        return self.registry.cancel(conversation_id, spoken_text)

    def _recall_enabled(self, persona: Persona, conversation_id: str) -> bool:
        if self.memory is None or persona.memory_policy == "off" or self.settings.memory_recall_k == 0:
            return False
        return self.memory_enabled(conversation_id)

    async def _recall(
        self, conversation_id: str, persona: Persona, query: str, user_name: str, world_id: str | None = None
    ) -> list[RecalledMemory]:
        """Memories relevant to `query` (the kept window may already show some of them); in a scene set in
        `world_id`, the world's lore too."""
        if self.memory is None or not query.strip():
            self.last_recall[conversation_id] = []
            return []
        recalled = await self.memory.arecall(
            query,
            persona.id,
            k=self.settings.memory_recall_k,
            token_budget=self.settings.memory_token_budget,
            user_name=user_name,
            world_id=world_id,
        )
        self.last_recall[conversation_id] = recalled
        return recalled

    async def expression_of(self, reply: str) -> str | None:
        """The reply's expression label (on a worker thread), or None without a classifier or its model."""
        if self.expressions is None or not reply.strip():
            return None
        return await self.expressions.aclassify(reply)

    async def _label(self, message_id: str, reply: str) -> str | None:
        """Label the saved reply. After the last token and the save: it never delays a word of the reply.
        While the embedding model is still loading (the first reply after a start) the label is found in the
        background, and when the model is busy with a batch (a memory write, a lorebook) it is waited for
        LABEL_WAIT_S at most and then carries on in the background: the reply's last update never waits
        seconds for it (None there; the label is saved with the message when found)."""
        embedder = self.expressions.embedder if self.expressions is not None else None
        if embedder is not None and not embedder.loaded and self.memory is not None:
            self.memory.writer.submit(("label", message_id), lambda: self._label_now(message_id, reply))
            return None
        labelling = asyncio.ensure_future(self._label_now(message_id, reply))
        _LABELS_IN_FLIGHT.add(labelling)  # (a task only weakly referenced by the loop could be collected)
        labelling.add_done_callback(_LABELS_IN_FLIGHT.discard)
        try:
            return await asyncio.wait_for(asyncio.shield(labelling), LABEL_WAIT_S)
        except TimeoutError:
            return None

    async def _label_now(self, message_id: str, reply: str) -> str | None:
        emotion = await self.expression_of(reply)
        if emotion is not None:
            self.conversations.set_emotion(message_id, emotion)
        return emotion

    def _mood_line(self, persona: Persona, conversation_id: str, user_name: str) -> str:
        """The character's state as one line for the model ("" before the first exchange)."""
        if self.moods is None:
            return ""
        try:
            mood = self.moods.get(conversation_id)
        except Exception:  # the state never stops a turn
            log.exception("mood unavailable")
            return ""
        return prompt_line(mood, persona.name, user_name) if mood else ""

    async def _move_mood(self, persona: Persona, conversation_id: str, reply_label: str | None, said: str) -> None:
        """After the reply is saved and labelled: the conversation's mood and affinity move (never failing the turn)."""
        if self.moods is None or reply_label is None:
            return
        try:
            user_label = await self.expression_of(said)
            self.moods.record_exchange(conversation_id, persona.mood_baseline, reply_label, user_label)
        except Exception:
            log.exception("mood not updated")

    def _remember(self, persona: Persona, conversation_id: str, user_name: str) -> None:
        """Turn the new messages into memories, in the background: never on the reply's path."""
        if self.memory is None:
            return
        # Memory off for this chat: the write still runs, as policy "off", only to move the watermark past
        # these messages, so turning memory back on never reaches back into what was said meanwhile.
        policy = persona.memory_policy if self.memory_enabled(conversation_id) else "off"
        self.memory.schedule_write(
            persona.id,
            conversation_id,
            policy=policy,
            persona_name=persona.name,
            user_name=user_name,
            defer_cards=self.cards is not None,
        )
        if self.cards is not None:
            self.cards.touched(conversation_id)

    async def _prompt(self, persona: Persona, conversation_id: str) -> tuple[BuiltPrompt, list[HistoryItem], dict]:
        """This turn's prompt: the stable start, the kept history with its notes, this turn's note and message;
        with the history it was built from and the layout (what the next turn's prefix is computed with)."""
        user_name = self.profile.user_name()
        recall_on = self._recall_enabled(persona, conversation_id)
        messages = self.conversations.messages(conversation_id)
        history = noted_history(messages, self.memory if recall_on else None, user_name)
        newest = history.items[-1] if history.items else None
        reserve = (self.settings.memory_token_budget if recall_on else 0) + STATE_LINE_TOKENS
        layout = {
            "user_name": user_name,
            "about_me": self.profile.about_me(),
            "context_tokens": self.settings.context_tokens,
            "reply_tokens": self.settings.reply_tokens,
            "turn_reserve": reserve,
        }
        if newest is not None and newest.role == "user":
            start = first_kept(persona, history.items, **layout)
            fresh: list[RecalledMemory] = []
            if recall_on:
                recalled = await self._recall(conversation_id, persona, newest.content, user_name)
                fresh = fresh_recall(recalled, history.shown_from(start))
            state = self._mood_line(persona, conversation_id, user_name)
            state = state if state != history.state_from(start) else ""  # unchanged: the window shows it
            history.items[-1] = replace(newest, note=join_notes(format_memories(fresh, user_name), state))
            refs = [note_ref(r.memory.id, r.lines) for r in fresh]
            self.conversations.set_turn_note(history.message_ids[-1], refs, state)
        if not recall_on:
            self.last_recall[conversation_id] = []
        prompt = build_prompt(persona, history.items, **layout)
        if prompt.dropped_messages or prompt.newest_truncated:
            log.info(
                "prompt window: %d older messages left out, newest truncated=%s",
                prompt.dropped_messages,
                prompt.newest_truncated,
            )
        return prompt, history.items, layout

    async def _answer(
        self,
        persona: Persona,
        conversation_id: str,
        until_heard: Callable[[], Awaitable[None]] | None = None,
        speculation: Speculation | None = None,
        speaking: Speaking | None = None,
    ) -> AsyncIterator[TurnUpdate]:
        prompt, history, layout = await (speaking.prompt() if speaking else self._prompt(persona, conversation_id))
        speaker_id = speaking.speaker_id if speaking else None
        question = next((m.content for m in reversed(prompt.messages) if m.role == "user"), "")
        user_name = self.profile.user_name()
        options = self.generation_options()
        model = persona.model or self.provider.model
        generation = GenerationStats()
        turn = self.registry.start(conversation_id)
        if self.cards is not None:
            self.cards.turn_started()  # a memory-card request in flight stops: this turn never waits behind it
        reply = ""
        status: MessageStatus | None = None
        error: str | None = None
        saved_id: str | None = None
        try:
            stream = self.provider.stream_chat(prompt.messages, options, model=model, stats=generation)
            if speaking is not None:
                stream = speaking.guard(stream)
            if until_heard is not None:
                stream = _then_wait(stream, until_heard)
            async for piece in until_cancelled(stream, turn.cancelled):
                reply += piece
                yield TurnUpdate(conversation_id=conversation_id, reply=reply, speaker_id=speaker_id)
            status = MessageStatus.partial if turn.cancelled.is_set() else MessageStatus.complete
            if status is MessageStatus.complete and not reply.strip():
                status, error = None, "The model returned an empty reply. Try Regenerate."
        except ProviderError as failure:
            error = failure.message
            status = MessageStatus.error if reply else None
            log.warning("turn failed: conversation=%s: %s", conversation_id, failure.message)
        finally:
            if status is None and error is None:
                # Neither finished nor failed: the task was cancelled or the consumer went away.
                status = MessageStatus.partial
            if turn.spoken_text is not None and status in (MessageStatus.partial, MessageStatus.complete):
                reply, status = turn.spoken_text, MessageStatus.interrupted
            if speculation is not None and not speculation.write():
                # The user went on talking before hearing any of it: this turn never happened (nothing saved;
                # send()'s settle() withdraws their words, however early the turn was cancelled).
                status, reply = None, ""
            if status is not None and reply:
                saved_id = self.conversations.add_reply(
                    conversation_id, reply, status, model=model, generation=generation, speaker_id=speaker_id
                ).id
            self.registry.finish(turn)
        emotion: str | None = None
        if saved_id:
            speaking.remember() if speaking else self._remember(persona, conversation_id, user_name)
            self._prepare_next_turn(
                persona, conversation_id, model, prompt, [*history, HistoryItem("assistant", reply)], layout
            )
            emotion = await self._label(saved_id, reply)
            if speaking is None:
                await self._move_mood(persona, conversation_id, emotion, question)
        log.info(
            "reply: conversation=%s status=%s text=%s server=%s",
            conversation_id,
            status.value if status else None,
            private(reply),
            generation.model_dump(exclude_none=True, exclude={"model"}),
        )
        yield TurnUpdate(
            conversation_id=conversation_id,
            reply=reply,
            done=True,
            status=status if saved_id else None,
            reply_message_id=saved_id,
            error=error,
            generation=generation,
            emotion=emotion,
            speaker_id=speaker_id,
        )


async def _then_wait(stream: AsyncIterator[str], wait: Callable[[], Awaitable[None]]) -> AsyncIterator[str]:
    """`stream`'s pieces, then `wait()`: inside the cancellable read, so a stop meanwhile ends the turn."""
    try:
        async for piece in stream:
            yield piece
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    await wait()
