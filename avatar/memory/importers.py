"""Chat transcripts from elsewhere into a persona's history and memory: SillyTavern chat JSONL and a plain JSONL.

SillyTavern (`<character>/<date>.jsonl`): a first line of metadata (user_name, character_name, ...),
then one message per line: name, is_user, is_system, send_date, mes. `send_date` is ISO 8601, epoch
milliseconds, or SillyTavern's "March 3, 2024 7:05pm"; hidden (is_system) messages are left out.
Plain JSONL: one {"role": "user" | "assistant", "content": ..., "timestamp": ...} per line (and an optional
"name" of the speaker).

The whole file is read and checked before anything is written, so a bad file imports nothing. The
messages become one new conversation with their original times and exact text; then the memory
service's own write path (the one live chat uses, with final=True) cuts them into chunks and,
when the model server is there, distills cards. Times without a zone are taken as local time.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from avatar.conversations.schemas import Role
from avatar.conversations.service import ConversationService
from avatar.memory import import_log
from avatar.memory.exceptions import InvalidTranscript
from avatar.memory.schemas import WriteReport
from avatar.memory.service import MemoryService
from avatar.personas.schemas import Persona

MAX_BYTES = 200 * 1024 * 1024
ROLES = {
    "user": Role.user,
    "human": Role.user,
    "assistant": Role.assistant,
    "ai": Role.assistant,
    "bot": Role.assistant,
    "character": Role.assistant,
    "model": Role.assistant,
}
SKIPPED_ROLES = {"system", "tool", "narrator"}

# "March 3, 2024 7:05pm", "Mar 3, 2024 7:05 PM", "March 3, 2024 7:05:09 pm"
_HUMANIZED = re.compile(
    r"^(?P<month>[A-Za-z]{3,9})\.?\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4}),?\s+"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)?$",
    re.IGNORECASE,
)
# SillyTavern's file-name style: "2024-03-03 @19h 05m 12s 345ms" (also without the seconds part)
_AT_STYLE = re.compile(
    r"^(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})\s*@\s*(?P<hour>\d{1,2})h\s*(?P<minute>\d{1,2})m"
    r"(?:\s*(?P<second>\d{1,2})s)?(?:\s*(?P<ms>\d{1,3})ms)?$",
    re.IGNORECASE,
)
# A few other common exports: "2023/05/30 (Tue) 23:40", "1:56 pm on 8 May, 2023".
_OTHER_FORMATS = ("%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d", "%I:%M %p on %d %B, %Y", "%d %B %Y %H:%M")
_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}


def _aware(moment: datetime) -> datetime:
    """UTC; a time without a zone is local time (what SillyTavern's humanized dates are)."""
    return moment.astimezone(timezone.utc)


def _from_epoch(number: float) -> datetime:
    # Milliseconds (SillyTavern, JavaScript) unless the number is only plausible as seconds.
    seconds = number / 1000.0 if abs(number) >= 1e11 else number
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def parse_timestamp(value: Any) -> datetime:
    """A message time as given by an export: ISO 8601, epoch (milli)seconds, or a humanized date. UTC out."""
    if isinstance(value, bool) or value is None:
        raise ValueError("no time given")
    if isinstance(value, (int, float)):
        moment = _from_epoch(float(value))
    elif isinstance(value, str):
        moment = _parse_text(value.strip())
    else:
        raise ValueError(f"{json.dumps(value)[:40]} is not a time")  # noqa: TRY004 (one error kind for callers)
    if not 1970 <= moment.year <= 2200:
        raise ValueError(f"{value!r} is not a plausible time")
    return moment


def _parse_text(text: str) -> datetime:
    if not text:
        raise ValueError("the time is empty")
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return _from_epoch(float(text))
    try:
        return _aware(datetime.fromisoformat(text.replace("z", "Z")))
    except ValueError:
        pass
    if match := _HUMANIZED.match(text):
        month = _MONTHS.get(match["month"].lower())
        if month is not None:
            hour = int(match["hour"])
            ampm = (match["ampm"] or "").lower().replace(".", "")
            if ampm and not 1 <= hour <= 12:
                raise ValueError(f"{text!r} has no such hour")
            if ampm == "pm" and hour != 12:
                hour += 12
            elif ampm == "am" and hour == 12:
                hour = 0
            return _aware(
                datetime(
                    int(match["year"]), month, int(match["day"]), hour, int(match["minute"]), int(match["second"] or 0)
                )
            )
    if match := _AT_STYLE.match(text):
        return _aware(
            datetime(
                int(match["year"]),
                int(match["month"]),
                int(match["day"]),
                int(match["hour"]),
                int(match["minute"]),
                int(match["second"] or 0),
                int(match["ms"] or 0) * 1000,
            )
        )
    cleaned = re.sub(r"\s*\([A-Za-z]{3,9}\)\s*", " ", text).strip()  # "2023/05/30 (Tue) 23:40"
    for pattern in _OTHER_FORMATS:
        try:
            return _aware(datetime.strptime(cleaned, pattern))
        except ValueError:
            continue
    raise ValueError(
        f"{text!r} is not a time this importer knows (ISO 8601, epoch milliseconds, 'March 3, 2024 7:05pm')"
    )


@dataclass(frozen=True)
class ImportedTurn:
    role: Role
    content: str  # exactly as in the file
    said_at: datetime  # UTC
    name: str | None = None  # the speaker's name, when the file gives one


@dataclass
class Transcript:
    format: str  # "sillytavern" | "jsonl"
    turns: list[ImportedTurn]
    user_name: str | None = None
    character_name: str | None = None
    skipped: int = 0  # hidden, system or empty messages left out


def read_transcript(path: Path) -> Transcript:
    """The transcript in `path`, checked whole. Raises InvalidTranscript saying which line is wrong."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InvalidTranscript(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidTranscript("there is no such file.") from None
    except IsADirectoryError:
        raise InvalidTranscript("that is a folder, not a chat file.") from None
    except UnicodeDecodeError:
        raise InvalidTranscript("the file is not UTF-8 text (a chat JSONL file is).") from None
    except OSError as error:
        raise InvalidTranscript(f"the file cannot be read ({error.strerror or error}).") from None
    return parse_transcript(text)


def parse_transcript(text: str) -> Transcript:
    records: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InvalidTranscript(f"line {number} is not JSON ({error.msg}).") from None
        if not isinstance(record, dict):
            raise InvalidTranscript(f"line {number} is not a JSON object.")
        records.append((number, record))
    if not records:
        raise InvalidTranscript("the file holds no messages.")
    if any("mes" in record for _, record in records) or _is_sillytavern_header(records[0][1]):
        transcript = _sillytavern(records)
    elif any("role" in record for _, record in records):
        transcript = _plain(records)
    else:
        raise InvalidTranscript(
            "this is neither a SillyTavern chat (lines with 'mes') nor a JSONL of {role, content, timestamp}."
        )
    if not transcript.turns:
        raise InvalidTranscript("the file holds no messages to import (only hidden or empty ones).")
    return transcript


def _is_sillytavern_header(record: dict[str, Any]) -> bool:
    return "mes" not in record and ("user_name" in record or "character_name" in record or "chat_metadata" in record)


def _speaker_names(transcript: Transcript) -> Transcript:
    """The names the people in the chat go by: the one most of their messages carry, else the header's."""
    for role, attribute in ((Role.user, "user_name"), (Role.assistant, "character_name")):
        names = [turn.name for turn in transcript.turns if turn.role is role and turn.name]
        if names:
            setattr(transcript, attribute, Counter(names).most_common(1)[0][0])
    return transcript


def _sillytavern(records: list[tuple[int, dict[str, Any]]]) -> Transcript:
    transcript = Transcript(format="sillytavern", turns=[])
    for index, (number, record) in enumerate(records):
        if index == 0 and _is_sillytavern_header(record):
            transcript.user_name = _optional_text(record.get("user_name"))
            transcript.character_name = _optional_text(record.get("character_name"))
            continue
        if "mes" not in record:
            raise InvalidTranscript(f"line {number} has no 'mes' (the message text).")
        content = record["mes"]
        if not isinstance(content, str):
            raise InvalidTranscript(f"line {number}: 'mes' is not text.")
        is_user = record.get("is_user")
        if not isinstance(is_user, bool):
            raise InvalidTranscript(f"line {number}: 'is_user' must be true or false.")
        if "send_date" not in record:
            raise InvalidTranscript(f"line {number} has no 'send_date'.")
        said_at = _time(record["send_date"], number, "send_date")
        if record.get("is_system") is True or not content.strip():
            transcript.skipped += 1
            continue
        name = _optional_text(record.get("name"))
        transcript.turns.append(ImportedTurn(Role.user if is_user else Role.assistant, content, said_at, name))
    return _speaker_names(transcript)


def _plain(records: list[tuple[int, dict[str, Any]]]) -> Transcript:
    transcript = Transcript(format="jsonl", turns=[])
    for number, record in records:
        role = record.get("role")
        if not isinstance(role, str):
            raise InvalidTranscript(f"line {number} has no 'role'.")
        content = record.get("content")
        if not isinstance(content, str):
            raise InvalidTranscript(f"line {number}: 'content' is missing or not text.")
        if "timestamp" not in record:
            raise InvalidTranscript(f"line {number} has no 'timestamp'.")
        said_at = _time(record["timestamp"], number, "timestamp")
        key = role.strip().lower()
        if key in SKIPPED_ROLES or (key in ROLES and not content.strip()):
            transcript.skipped += 1
            continue
        if key not in ROLES:
            raise InvalidTranscript(f"line {number}: role {role!r} is neither 'user' nor 'assistant'.")
        transcript.turns.append(ImportedTurn(ROLES[key], content, said_at, _optional_text(record.get("name"))))
    return _speaker_names(transcript)


def _time(value: Any, number: int, name: str) -> datetime:
    try:
        return parse_timestamp(value)
    except (ValueError, OverflowError, OSError) as error:
        raise InvalidTranscript(f"line {number}: '{name}' {error}.".replace("..", ".")) from None


def _optional_text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


@dataclass
class ImportReport:
    conversation_id: str
    format: str
    messages: int
    skipped: int
    first_at: datetime
    last_at: datetime
    memory: WriteReport = field(default_factory=lambda: WriteReport(conversation_id=""))
    fresh: bool = True  # a new conversation (False: this chat was imported before)
    resumed: bool = False  # an earlier import of it had been cut short: its memories were finished now


async def import_transcript(
    transcript: Transcript,
    persona: Persona,
    conversations: ConversationService,
    memory: MemoryService,
    *,
    user_name: str = "User",
    distill: bool = True,
    source: str = "",
) -> ImportReport:
    """Store `transcript` as a new conversation with `persona`, then as memories (waits for them).

    The same transcript again (a fingerprint of its messages, whatever file holds them) is not imported
    twice: when its earlier import was cut short (the process killed), the memories it lacks are written
    now, from the watermark on; when it was complete, nothing happens. The conversation, its messages and
    the import's record are one commit. If the memory write of a new import fails, the conversation and
    what it had already stored are removed again, and the error is raised: an import is all or nothing.
    Memory text names the speakers as the file does (SillyTavern's names, a JSONL's "name"), so a question
    that names them finds their words; without names, `user_name` and the persona's name.
    """
    turns = transcript.turns
    print_ = import_log.fingerprint((t.role.value, t.content, t.said_at) for t in turns)
    with memory.engine.connect() as connection:
        earlier = import_log.find(connection, persona.id, print_)
    if earlier is None:
        entry = import_log.ChatImport(
            persona.id, "", source, transcript.user_name or user_name, transcript.character_name or persona.name, False
        )
        first_user = next((t.content for t in turns if t.role is Role.user), turns[0].content)
        title = f"Imported {turns[0].said_at:%Y-%m-%d}: {' '.join(first_user.split())}"
        conversation = conversations.import_messages(
            persona.id,
            title,
            [(t.role, t.content, t.said_at) for t in turns],
            also=lambda session, conversation_id: import_log.record(
                session.connection(), print_, replace(entry, conversation_id=conversation_id), len(turns)
            ),
        )
        entry = replace(entry, conversation_id=conversation.id)
    else:
        entry = earlier
    report = ImportReport(
        conversation_id=entry.conversation_id,
        format=transcript.format,
        messages=len(turns),
        skipped=transcript.skipped,
        first_at=min(t.said_at for t in turns),
        last_at=max(t.said_at for t in turns),
        memory=WriteReport(conversation_id=entry.conversation_id),
        fresh=earlier is None,
        resumed=earlier is not None and not earlier.complete,
    )
    if not entry.complete:
        try:
            report.memory = await finish_import(entry, persona, memory, distill=distill)
        except BaseException:
            if report.fresh:
                memory.delete_all(conversation_id=entry.conversation_id)
                conversations.delete(entry.conversation_id)
            raise
    return report


async def finish_import(
    entry: import_log.ChatImport, persona: Persona, memory: MemoryService, *, distill: bool = True
) -> WriteReport:
    """Write an imported conversation's memories from its watermark on (all of them, for a new import), then
    mark the import complete."""
    report = await memory.remember(
        persona.id,
        entry.conversation_id,
        policy=persona.memory_policy,
        persona_name=entry.character_name or persona.name,
        user_name=entry.user_name,
        final=True,
        distill=distill,
        keep_tail=True,
    )
    with memory.engine.begin() as connection:
        import_log.complete(connection, entry.conversation_id)
    return report
