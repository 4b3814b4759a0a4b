"""The user profile: <data-dir>/profile.yaml round-trips, refuses bad input by field, survives a broken file."""

from __future__ import annotations

import os

import pytest
import yaml

from avatar.core.errors import InvalidInputError
from avatar.profile.service import ProfileService
from avatar.profile.ui import ProfileSection


def test_profile_round_trip_and_default_name(tmp_path):
    service = ProfileService.for_data_dir(tmp_path, default_name="User")
    assert service.get().name == "" and service.user_name() == "User" and service.about_me() == ""
    service.save("  Sam   Lee ", "I'm a nurse.\r\nI climb on weekends.\n")
    assert yaml.safe_load((tmp_path / "profile.yaml").read_text()) == {
        "name": "Sam Lee",
        "about_me": "I'm a nurse.\nI climb on weekends.",
    }
    again = ProfileService.for_data_dir(tmp_path)  # another instance (the chat flow's) reads the same file
    assert again.user_name() == "Sam Lee" and again.about_me() == "I'm a nurse.\nI climb on weekends."
    assert [p.name for p in tmp_path.iterdir()] == ["profile.yaml"]  # no temporary files left behind


def test_hand_edits_are_picked_up_and_a_broken_file_falls_back(tmp_path):
    service = ProfileService.for_data_dir(tmp_path)
    service.save("Sam", "")
    path = tmp_path / "profile.yaml"
    path.write_text("name: Alex\nabout_me: Hi there\n")
    os.utime(path, ns=(1, 1))
    assert service.user_name() == "Alex"
    path.write_text("name: [unclosed\n")
    assert service.user_name() == "User" and "profile.yaml" in service.problem


def test_bad_input_names_the_field(tmp_path):
    service = ProfileService.for_data_dir(tmp_path)
    with pytest.raises(InvalidInputError, match=r"^Your name: String should have at most 80 characters\.$"):
        service.save("x" * 81, "")
    with pytest.raises(InvalidInputError, match="^About me:"):
        service.save("Sam", "y" * 5000)
    assert not (tmp_path / "profile.yaml").exists()


def test_profile_section_handlers(tmp_path):
    section = ProfileSection(ProfileService.for_data_dir(tmp_path, default_name="Friend"))
    assert section.load() == ("", "", "")
    name, about, status = section.save("", "I like tea.")
    assert (name, about) == ("", "I like tea.") and "call you Friend" in status
    name, about, status = section.save("{{char}}", "")
    assert status == "Your name: must not contain { or }." and name["__type__"] == "update"
    assert section.load() == ("", "I like tea.", "")
