"""A request that gets no image is told why, as far as Google said (gemini-balance FAQ 11)."""

import orjson
import pytest

from gempool.gateway.openai.images import ImagesAdapter, why_no_image
from gempool.gateway.runtime import Runtime


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ({"predictions": [{"raiFilteredReason": "Your prompt may violate our policies."}]}, "may violate"),
        ({"promptFeedback": {"blockReason": "SAFETY"}}, "blocked the prompt (SAFETY)"),
        ({"candidates": [{"finishReason": "IMAGE_SAFETY", "content": {"parts": []}}]}, "IMAGE_SAFETY"),
        ({"candidates": [{"finishReason": "STOP", "content": {"parts": [{"text": "no"}]}}]}, "rephrasing"),
        ({}, "rephrasing"),
        (None, "rephrasing"),
    ],
)
def test_the_reason_google_gave_is_passed_on(answer: object, said: str) -> None:
    message = why_no_image(answer)
    assert message.startswith("The model returned no image for this prompt") and said in message


async def test_images_without_an_image_are_an_openai_400_naming_the_reason(runtime: Runtime) -> None:
    adapter = ImagesAdapter(runtime, "http://gw", as_url=True)
    body = orjson.dumps({"predictions": [{"raiFilteredReason": "Filtered: people."}]})
    response = adapter.success(body, "application/json")
    assert response.status_code == 400
    error = orjson.loads(bytes(response.body))["error"]
    assert error["type"] == "invalid_request_error" and error["message"].endswith("Filtered: people.")
