"""Real-time voice: the FastRTC handler (turn-taking, barge-in, streaming replies) and the Voice tab.

endpointing.py  Silero VAD 32 ms at a time: speech onset, end of utterance
models.py       whisper.cpp and Piper, found or downloaded, loaded once, warmed in the background
playback.py     the reply's audio paced out in 20 ms chunks; what the user actually heard
latency.py      per-turn timings (endpoint -> transcript -> first token -> first audio)
handler.py      VoiceHandler: one WebRTC call, microphone to speaker
rtc.py          aiortc's receive side without the player's prefetch: the microphone reaches the VAD at once
ui.py           VoiceTab: the WebRTC component, sharing the Chat tab's character and conversation
cli.py          the voice settings as flags of `python app.py`
"""
