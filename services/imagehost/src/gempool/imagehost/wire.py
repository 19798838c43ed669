"""What every remote provider does with HTTP: send, map failures, read the answer, check a URL."""

from typing import Any

import httpx

from gempool.imagehost.providers import ProviderError, TransientProviderError, raise_for_status


async def send(client: httpx.AsyncClient, method: str, url: str, **kw: Any) -> httpx.Response:
    """One request; network faults and timeouts are transient, HTTP errors are mapped by status.

    The error names the fault's kind, never the URL (it may carry a token in its query).
    """
    try:
        response = await client.request(method, url, **kw)
    except httpx.InvalidURL:
        raise ProviderError("the configured URL is not valid") from None
    except httpx.HTTPError as exc:
        raise TransientProviderError(f"request failed: {type(exc).__name__}") from None
    if response.status_code >= 400:
        raise_for_status(response.status_code, detail(response))
    return response


def detail(response: httpx.Response) -> str:
    """A short reason from an error answer: S3/OSS XML ``<Code>``/``<Message>`` or JSON ``message``."""
    text = response.text[:4000]
    code = _between(text, "<Code>", "</Code>")
    if code:
        said = _between(text, "<Message>", "</Message>")
        return f" ({code[:100]}: {said[:200]})" if said else f" ({code[:100]})"
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        error = body.get("error")
        message: Any = body.get("message") or (error.get("message") if isinstance(error, dict) else error)
        if message:
            return f" ({str(message)[:200]})"
    return ""


def _between(text: str, start: str, end: str) -> str:
    head, found, tail = text.partition(start)
    return tail.partition(end)[0] if found and end in tail else ""


def json_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ProviderError("answered with something that is not JSON") from None


def public_url(value: Any) -> str:
    """The URL a host answered, if it is one clients can open (never javascript:, data:, ...)."""
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ProviderError(f"answered with no usable URL: {str(value)[:100]!r}")
    return value
