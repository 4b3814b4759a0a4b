"""Structured answers from any provider: a JSON object of a pydantic model's schema, validated, asked for again once.

The provider constrains the answer to the schema where its server can (Ollama's `format`, an OpenAI-
compatible server's `response_format: json_schema`); where it cannot, or the answer does not validate
anyway (a server that ignored the schema, a truncated answer), the schema is written into the prompt and
the answer is looked for in what comes back (a model may wrap it in prose or a code fence).
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from avatar.llm.base import ChatMessage, GenerationOptions

if TYPE_CHECKING:
    from avatar.llm.base import ChatProvider

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)

RETRY_NUDGE = (
    "That answer was not valid JSON for the required schema. Answer again with only the JSON object and nothing else."
)
SCHEMA_INSTRUCTION = (
    "Answer with one JSON object and nothing else (no prose, no code fence). It must match this JSON schema:\n{schema}"
)
_FENCED = re.compile(r"```(?:json)?\s*(\{.*\})\s*```", re.DOTALL)


def with_schema_instruction(messages: list[ChatMessage], schema: dict[str, Any]) -> list[ChatMessage]:
    """`messages` with the schema asked for in words, at the end of the system message (one is added if none)."""
    instruction = SCHEMA_INSTRUCTION.format(schema=json.dumps(schema, ensure_ascii=False))
    if messages and messages[0].role == "system":
        return [ChatMessage(role="system", content=f"{messages[0].content}\n\n{instruction}"), *messages[1:]]
    return [ChatMessage(role="system", content=instruction), *messages]


def parse_answer(content: str, output: type[T]) -> T | None:
    """The object in a model's answer, or None when there is none valid for `output`: the answer itself, else
    a fenced block in it, else its outermost braces."""
    candidates = [content.strip()]
    if fenced := _FENCED.search(content):
        candidates.append(fenced.group(1))
    start, end = content.find("{"), content.rfind("}")
    if 0 <= start < end:
        candidates.append(content[start : end + 1])
    for candidate in candidates:
        try:
            return output.model_validate_json(candidate)
        except (ValidationError, ValueError):
            continue
    return None


async def complete_structured(
    provider: ChatProvider,
    messages: list[ChatMessage],
    output: type[T],
    options: GenerationOptions,
    model: str | None = None,
    *,
    attempts: int = 2,
) -> T | None:
    """An `output` from the model, or None when no answer validated in `attempts` tries. ProviderError and its
    kinds propagate (the server failed)."""
    schema = output.model_json_schema()
    constrained = True
    for attempt in range(1, attempts + 1):
        content = await provider.complete_json(messages, schema, options, model, constrained=constrained)
        parsed = parse_answer(content, output)
        if parsed is not None:
            return parsed
        log.warning("structured answer %d of %d did not match the schema", attempt, attempts)
        messages = [
            *messages,
            ChatMessage(role="assistant", content=content),
            ChatMessage(role="user", content=RETRY_NUDGE),
        ]
        constrained = False  # the server may have ignored the schema: ask for it in words too
    return None
