"""Real-time voice: the FastRTC handler and its stages (echo -> VAD -> end of turn -> transcript -> reply -> speech).

handler.py       VoiceHandler: one WebRTC call, wiring the stages and owning the turn's state
state.py         the page's inputs, the events sent back, the turn in progress
echo.py          the avatar's own voice taken out of the microphone (WebRTC AEC3 via livekit)
echo_reference.py what the avatar handed on when, and when the microphone heard: the canceller's clock
endpointing.py   Silero VAD 32 ms at a time: speech onset, short pauses, end of utterance
turn_end.py      whether a paused utterance is finished: Smart Turn v3 and the words themselves
transcription.py whisper while the user talks (the live transcript); the last pass is the final one
words.py         whisper's inventions told from words said; backchannels ("mm-hmm") and echo told from turns
reply.py         the model's reply -> sentences -> Piper -> playback, started speculatively
conversation.py  which conversation a call talks in, and the greeting a new chat opens with
models.py        whisper.cpp, Piper and Smart Turn, found or downloaded, loaded once, warmed in the background
playback.py      the reply's audio paced out in 20 ms chunks, held and resumed; what the user actually heard
latency.py       per-turn timings (last word -> end of turn -> transcript -> first token -> first audio)
rtc.py           aiortc's receive side without the player's prefetch: the microphone reaches the VAD at once
ui.py            VoiceTab: the WebRTC component, sharing the Chat tab's character and conversation
cli.py           the voice settings as flags of `python app.py`
"""
