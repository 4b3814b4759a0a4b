"""Bad card files are refused with one clear line each, and big files are refused before they are read."""

from __future__ import annotations

import base64
import json
import struct
import tracemalloc

import pytest

from avatar.core.errors import AvatarError
from avatar.personas.card_format import MAX_CARD_BYTES, PNG_SIGNATURE, CardError
from avatar.personas.cards import import_card, parse_card, read_card_file

from .cardkit import b64json, png, v1_card, v2_card, v3_card


def as_json(value) -> bytes:
    return json.dumps(value).encode("utf-8")


def with_data(**fields) -> bytes:
    return as_json(v2_card(**fields))


def deeply_nested() -> bytes:
    return b'{"spec": "chara_card_v2", "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


def bad_crc() -> bytes:
    data = bytearray(png({"chara": b64json(v2_card())}))
    data[-5] ^= 0xFF  # the IEND checksum
    return bytes(data)


BAD_CARDS = {
    "invalid base64": (png({"chara": "this is *not* base64!"}), "card.png", "not valid base64"),
    "base64 of non-JSON": (png({"chara": base64.b64encode(b"hello").decode()}), "card.png", "not valid JSON"),
    "base64 of non-UTF-8": (png({"chara": base64.b64encode(b"\xff\xfe{").decode()}), "card.png", "not UTF-8"),
    "wrong spec": (as_json({**v2_card(), "spec": "chara_card_v9"}), "card.json", "Unsupported card spec"),
    "wrong spec in PNG": (png({"chara": b64json({**v2_card(), "spec": "tavern"})}), "c.png", "Unsupported card spec"),
    "spec not text": (as_json({**v2_card(), "spec": ["x" * 1000]}), "card.json", "Unsupported card spec an unknown"),
    "lorebook": (as_json({"spec": "lorebook_v3", "data": {"entries": []}}), "book.json", "lorebook, not a character"),
    "no data": (as_json({"spec": "chara_card_v2", "spec_version": "2.0"}), "card.json", "no 'data' object"),
    "data not object": (as_json({"spec": "chara_card_v3", "data": "Seraphina"}), "card.json", "no 'data' object"),
    "missing name": (as_json({"spec": "chara_card_v2", "data": {"description": "x"}}), "c.json", "has no name"),
    "blank name": (with_data(name="   "), "card.json", "has no name"),
    "blank V1 name": (as_json({**v1_card(), "name": ""}), "card.json", "has no name"),
    "neither spec nor name": (as_json({"description": "who?"}), "card.json", "neither a 'spec' nor a 'name'"),
    "JSON array": (b"[1, 2, 3]", "card.json", "is a JSON array, not an object"),
    "JSON string": (b'"Seraphina"', "card.json", "is a JSON string, not an object"),
    "JSON null": (b"null", "card.json", "is a JSON null, not an object"),
    "broken JSON": (b'{"spec": "chara_card_v2", ', "card.json", "not valid JSON (line 1"),
    "deeply nested JSON": (deeply_nested(), "card.json", "nested too deeply"),
    "JSON not UTF-8": (b'{"name": "\xff\xfe"}', "card.json", "not UTF-8"),
    "not a card at all": (b"GIF89a....", "card.gif", "not a character card"),
    "text named .png": (as_json(v2_card()), "card.png", "not a PNG image"),
    "JPEG named .png": (b"\xff\xd8\xff\xe0" + b"\0" * 100, "card.png", "not a PNG image"),
    "charx zip": (b"PK\x03\x04" + b"\0" * 100, "card.charx", "CHARX"),
    "PNG without card": (png({"Comment": "just a picture"}), "photo.png", "no character card in it"),
    "truncated PNG": (png({"chara": b64json(v2_card())})[:-30], "card.png", "truncated"),
    "PNG with a bad checksum": (bad_crc(), "card.png", "checksum does not match"),
    "PNG signature only": (PNG_SIGNATURE, "card.png", "damaged"),
    "huge name": (with_data(name="N" * 200), "card.json", "name is 200 characters long; at most 80"),
    "huge description": (with_data(description="x" * 1_000_000), "c.json", "'description' is too long: 1,000,000"),
    "huge greeting": (with_data(first_mes="y" * 60_000), "c.json", "'first_mes' is too long"),
    "too many greetings": (with_data(alternate_greetings=["hi"] * 10_000), "c.json", "10,000 items; at most 200"),
    "huge tag": (with_data(tags=["t" * 500]), "card.json", "'tags[0]' is too long"),
    "tags not texts": (with_data(tags={"a": 1}), "card.json", "'tags' must be a list of texts"),
    "description a list": (with_data(description=["a"]), "card.json", "'description' must be text"),
    "extensions not object": (with_data(extensions=[1]), "card.json", "'extensions' must be an object"),
    "book entries not list": (with_data(character_book={"entries": "x"}), "c.json", "entries' must be a list"),
    "book entry not object": (with_data(character_book={"entries": [1]}), "c.json", "entries[0]' must be an object"),
    "book keys not texts": (
        with_data(character_book={"entries": [{"keys": [1], "content": "c"}]}),
        "card.json",
        "entries[0].keys' must be a list of texts",
    ),
    "huge lore entry": (
        with_data(character_book={"entries": [{"keys": ["k"], "content": "z" * 100_000}]}),
        "card.json",
        "entries[0].content' is too long",
    ),
    "our extension broken": (
        with_data(extensions={"local_avatar": {"voice": {"rate": 99}}}),
        "card.json",
        "field 'voice.rate'",
    ),
    "our extension huge": (
        with_data(extensions={"local_avatar": {"tagline": "t" * 80_000}}),
        "card.json",
        "'tagline' is too long",
    ),
}


@pytest.mark.parametrize(("data", "filename", "message"), BAD_CARDS.values(), ids=BAD_CARDS.keys())
def test_bad_card_is_refused_with_one_clear_line(data, filename, message):
    with pytest.raises(CardError) as caught:
        parse_card(data, filename)
    error = caught.value
    assert isinstance(error, AvatarError)
    assert message in error.message
    assert "\n" not in error.message and len(error.message) < 200


def test_numbers_in_text_fields_are_tolerated():
    # Editors often write character_version as a number; that is not worth refusing a card for.
    card = parse_card(with_data(character_version=2, description=5))
    assert card.extras.character_version == "2" and card.persona.description == "5"


def test_oversized_bytes_are_refused():
    data = PNG_SIGNATURE + b"\0" * MAX_CARD_BYTES
    with pytest.raises(CardError, match="MB; a character card may be at most 20 MB"):
        parse_card(data, "big.png")


def test_a_50_mb_file_is_refused_without_being_read(tmp_path):
    path = tmp_path / "huge.png"
    with path.open("wb") as handle:
        handle.write(PNG_SIGNATURE)
        handle.truncate(50 * 1024 * 1024)  # sparse: costs no disk
    tracemalloc.start()
    try:
        with pytest.raises(CardError, match=r"huge.png is 50.0 MB; a character card may be at most 20 MB"):
            import_card(path, tmp_path / "personas", [])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    assert not (tmp_path / "personas").exists()


def test_read_card_file_honours_its_limit(tmp_path):
    path = tmp_path / "card.json"
    path.write_bytes(b"{" + b" " * 2000 + b"}")
    with pytest.raises(CardError, match="at most"):
        read_card_file(path, limit=1000)


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_unreadable_paths(tmp_path, make):
    path = tmp_path / "card.png"
    if make == "directory":
        path.mkdir()
    with pytest.raises(CardError, match="card.png"):
        import_card(path, tmp_path / "personas", [])


def test_compressed_chunk_bomb_is_refused():
    # An iTXt chunk whose text would inflate past the size limit.
    import zlib

    bomb = zlib.compress(b"A" * (MAX_CARD_BYTES + 10), 9)
    body = b"chara\0" + b"\x01\x00" + b"\0" + b"\0" + bomb
    chunk = struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(b"iTXt")))
    picture = png()
    data = picture[:-12] + chunk + picture[-12:]
    with pytest.raises(CardError, match="'chara' text chunk is damaged"):
        parse_card(data, "bomb.png")


def test_v3_card_with_wrong_types_in_optional_fields_still_imports():
    card = v3_card(nickname=5, source="not a list", creation_date="yesterday")
    parsed = parse_card(as_json(card))
    assert parsed.extras.v3 == {
        "group_only_greetings": ["Hello, everyone."],
        "creator_notes_multilingual": card["data"]["creator_notes_multilingual"],
    }
