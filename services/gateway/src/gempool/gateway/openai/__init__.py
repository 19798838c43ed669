"""The OpenAI-compatible API (``/v1/...`` and ``/hf/v1/...``), translated to Gemini and back.

``schemas`` describes the requests (permissive: unknown fields are kept), ``chat`` turns a chat
request into a ``generateContent`` body, ``answers`` and ``stream`` turn Gemini's answers into
OpenAI's, ``adapters`` plug those into the shared attempt loop, ``routes`` wires the endpoints.
"""
