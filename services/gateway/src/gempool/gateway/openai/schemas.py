"""OpenAI request bodies as permissive pydantic models: typed where gempool reads, open elsewhere.

Unknown fields are accepted and ignored, as OpenAI-compatible servers do, so a client that sends a
newer field still works. The models also document the endpoints in the gateway's OpenAPI.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# A Gemini model name (``models/`` optional): it becomes part of the upstream URL's path.
MODEL_NAME = r"^(models/)?[A-Za-z0-9][A-Za-z0-9._-]*$"
ModelName = Annotated[str, Field(pattern=MODEL_NAME, max_length=200)]


# ---- chat completions


class ImageURL(Open):
    url: str
    detail: str | None = None


class InputAudio(Open):
    data: str
    format: str = "wav"


class FileRef(Open):
    file_data: str | None = None
    file_id: str | None = None
    filename: str | None = None


class ContentPart(Open):
    type: str
    text: str | None = None
    image_url: ImageURL | None = None
    input_audio: InputAudio | None = None
    file: FileRef | None = None


class FunctionCall(Open):
    name: str
    arguments: str = ""


class ToolCall(Open):
    id: str = ""
    type: str = "function"
    function: FunctionCall
    extra_content: dict[str, Any] | None = None


class ChatMessage(Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    function_call: FunctionCall | None = None  # the deprecated form of tool_calls (one call, no id)


class FunctionDef(Open):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(Open):
    type: str = "function"
    function: FunctionDef | None = None


class NamedFunction(Open):
    name: str


class NamedToolChoice(Open):
    type: str = "function"
    function: NamedFunction


class JsonSchemaFormat(Open):
    name: str = "response"
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(Open):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(Open):
    include_usage: bool | None = None


class ChatCompletionRequest(Open):
    model: ModelName
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stop: str | list[str] | None = None
    n: int | None = Field(default=None, ge=1, le=8)
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    reasoning_effort: str | None = None
    response_format: ResponseFormat | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    # OpenAI's deprecated forms of tools and tool_choice, still sent by older clients.
    functions: list[FunctionDef] | None = None
    function_call: Literal["none", "auto"] | NamedFunction | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    user: str | None = None


# ---- embeddings, images, speech


class EmbeddingRequest(Open):
    model: ModelName
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] | None = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None


class ImageRequest(Open):
    prompt: str = Field(min_length=1)
    model: ModelName | None = None
    n: int | None = Field(default=1, ge=1, le=8)
    size: str | None = None
    response_format: Literal["url", "b64_json"] | None = "url"
    user: str | None = None


class SpeechRequest(Open):
    model: ModelName
    input: str = Field(min_length=1)
    voice: str = Field(min_length=1)
    instructions: str | None = None
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] | None = "mp3"
    speed: float | None = Field(default=None, ge=0.25, le=4.0)
