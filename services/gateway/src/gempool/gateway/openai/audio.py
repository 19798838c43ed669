"""Raw 16-bit mono PCM (what Gemini's TTS models return) -> the audio formats OpenAI offers.

WAV and PCM are written here; MP3, Opus, AAC and FLAC go through PyAV (FFmpeg's encoders, shipped
in its wheels), imported only when a client asks for one of them.
"""

import io
import re
import struct

MEDIA_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
# format -> (FFmpeg encoder, container)
ENCODERS = {
    "mp3": ("libmp3lame", "mp3"),
    "opus": ("libopus", "ogg"),
    "aac": ("aac", "adts"),
    "flac": ("flac", "flac"),
}
_RATE = re.compile(r"rate=(\d+)")


def sample_rate(mime_type: str) -> int:
    """``audio/L16;codec=pcm;rate=24000`` -> 24000 (Gemini's TTS rate when unstated)."""
    match = _RATE.search(mime_type)
    return int(match.group(1)) if match else 24000


def wav(pcm: bytes, rate: int) -> bytes:
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(pcm),
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        1,  # mono
        rate,
        rate * 2,
        2,
        16,
        b"data",
        len(pcm),
    )
    return header + pcm


def encode(pcm: bytes, rate: int, fmt: str) -> bytes:
    if fmt == "pcm":
        return pcm
    if fmt == "wav":
        return wav(pcm, rate)
    return _ffmpeg(pcm, rate, *ENCODERS[fmt])


def _ffmpeg(pcm: bytes, rate: int, codec: str, container: str) -> bytes:
    import av  # heavy: imported when a client first asks for one of these formats

    pcm = pcm[: len(pcm) - len(pcm) % 2]
    out = io.BytesIO()
    with av.open(out, "w", format=container) as muxer:
        stream = muxer.add_stream(codec, rate=rate, layout="mono")
        assert isinstance(stream, av.audio.stream.AudioStream)
        frame = av.AudioFrame(format="s16", layout="mono", samples=len(pcm) // 2)
        frame.planes[0].update(pcm)
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            muxer.mux(packet)
        for packet in stream.encode(None):
            muxer.mux(packet)
    return out.getvalue()
