"""The user's profile: the name characters call you by and a short "about me" every character knows."""
