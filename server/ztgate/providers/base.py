"""The provider-neutral shape of an LLM exchange, and the interface every provider adapter implements.

Adapters are pure: bytes or parsed JSON in, these dataclasses out. They never see protobuf, gRPC or
Envoy; the extproc layer orchestrates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# A location inside a parsed JSON body: keys and list indexes from the root, e.g.
# ("messages", 2, "content", 0, "text"). Redaction writes rewritten text back through it.
JsonPath = tuple[str | int, ...]


class RequestError(Exception):
    """The client's request is unusable (bad JSON, missing model, ...): a 4xx in the provider's format."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


@dataclass(slots=True, frozen=True)
class Route:
    """What the request path says: which API, which operation, and what the path itself carries."""

    provider: str  # "openai" | "azure_openai" | "anthropic" | "gemini"
    operation: str  # see OPERATIONS
    model: str | None = None  # Gemini and Azure carry the model (deployment) in the path
    stream: bool = False  # Gemini's :streamGenerateContent streams by path, not by body
    has_body: bool = True  # GET /v1/models has none


# Operation names are the API's own endpoint, snake_case, so policy authors recognise them.
OPERATIONS = (
    "chat_completions",  # OpenAI POST /v1/chat/completions
    "responses",  # OpenAI POST /v1/responses
    "embeddings",  # OpenAI POST /v1/embeddings
    "list_models",  # OpenAI GET /v1/models, Gemini GET /v1beta/models
    "messages",  # Anthropic POST /v1/messages
    "generate_content",  # Gemini :generateContent and :streamGenerateContent
)


@dataclass(slots=True, frozen=True)
class TextPart:
    """One piece of text the model will read or has written, with where it sits in the body."""

    message_index: int  # index in the provider's message list; -1 for a top-level system/instructions field
    role: str  # "system" | "user" | "assistant" | "tool"
    kind: str  # "text" | "tool_result" | "tool_call_arguments"
    text: str
    path: JsonPath
    name: str | None = None  # the tool's name, for tool_call_arguments: policy constrains arguments per tool


@dataclass(slots=True)
class LLMRequest:
    """A request body, normalised across providers."""

    provider: str
    operation: str
    model: str | None
    stream: bool
    max_output_tokens: int | None
    parts: list[TextPart] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)  # names of the tools/functions offered to the model
    message_count: int = 0


@dataclass(slots=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None  # OpenAI cached_tokens, Anthropic cache_read_input_tokens, Gemini cachedContentTokenCount
    cache_creation_input_tokens: int | None = None  # Anthropic only

    def merge(self, other: "Usage") -> None:
        """Take every field the other report knows; providers report usage in pieces across a stream."""
        for name in ("input_tokens", "output_tokens", "cached_input_tokens", "cache_creation_input_tokens"):
            value = getattr(other, name)
            if value is not None:
                setattr(self, name, value)


@dataclass(slots=True)
class ToolCall:
    id: str | None
    name: str
    arguments: str  # JSON text as the provider sent it (accumulated across stream deltas)


CHOICE_SEPARATOR = "\n\n"  # between the texts of several choices in LLMResponse.output_text


@dataclass(slots=True)
class LLMResponse:
    """What came back, accumulated over a buffered body or a whole stream."""

    model: str | None = None
    # Text deltas in order (one item per text part of a buffered body), of the first choice when an
    # adapter files the text of further choices under other_choices (add_text with a choice index).
    text: list[str] = field(default_factory=list)
    # Text deltas of further choices (OpenAI chat with n > 1), by choice index: a stream interleaves
    # the choices' deltas, so each is kept apart and output_text puts them one after another.
    other_choices: dict[int, list[str]] = field(default_factory=dict)
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    error: str | None = None  # an error the provider reported in the body or stream
    # Adapter-private accumulation state across the events of one stream (e.g. which tool call a
    # fragment at a given index belongs to). Adapters are shared and stateless; this is where a stream's
    # state lives, so one LLMResponse per stream. Nothing outside the adapter reads it.
    stream_state: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def add_text(self, text: str, choice: int = 0) -> None:
        """One text delta of a choice (0: the first, or the only one)."""
        if choice == 0:
            self.text.append(text)
        else:
            self.other_choices.setdefault(choice, []).append(text)

    @property
    def output_text(self) -> str:
        """The answer's text; with several choices, each whole, in index order, CHOICE_SEPARATOR between."""
        first = "".join(self.text)
        if not self.other_choices:
            return first
        texts = (first, *("".join(self.other_choices[i]) for i in sorted(self.other_choices)))
        return CHOICE_SEPARATOR.join(t for t in texts if t)


@dataclass(slots=True)
class SSEEvent:
    """One server-sent event (https://html.spec.whatwg.org/multipage/server-sent-events.html)."""

    data: str
    event: str | None = None
    id: str | None = None
    # The data parsed as JSON, filled on first use (providers._common.event_json): accounting and
    # output inspection both read each event, and parsing it once halves that cost on streams.
    parsed: Any = field(default=None, compare=False, repr=False)
    parsed_done: bool = field(default=False, compare=False, repr=False)


@dataclass(slots=True, frozen=True)
class StreamText:
    """One text delta an SSE event carries, as the streaming guard sees it.

    channel names one independent text stream; the deltas of a channel concatenate, across events, to
    what the client's SDK assembles. Names per provider:
      OpenAI chat       "choice:<i>" (content), "choice:<i>:refusal", "choice:<i>:tool:<j>" (tool_calls[j]
                        by its index), "choice:<i>:function_call" (legacy), "choice:<i>:reasoning"
                        (reasoning_content / reasoning of OpenAI-compatible servers)
      OpenAI Responses  "output:<o>:content:<c>" (output_text, refusal, reasoning_text of output item o,
                        content part c), "output:<o>:summary:<s>" (reasoning summary s), "output:<o>"
                        (function_call arguments, custom_tool_call input)
      Anthropic         "block:<index>" (text, thinking or tool input JSON of one content block)
      Gemini            "candidate:<i>" (answer text), "candidate:<i>:thought" (thought summaries),
                        "candidate:<i>:part:<k>" (functionCall args of part k),
                        "candidate:<i>:args:<jsonPath>" (a streamed partialArgs string value)

    kind says what the text is and how it adds to its channel:
      "text", "thinking"               appended to the channel (plain text)
      "tool_call_arguments"            appended to the channel (JSON text fragments)
      "text_done"                      repeats the whole channel's text so far (Responses API *.done
      "tool_call_arguments_done"       events, content_part.done, output_item.done, response.completed):
                                       rewrite it to what the client was actually sent. text_done serves
                                       every prose channel (answer, refusal and reasoning alike). Some
                                       servers (LM Studio) send a call's arguments only here, no deltas.
      "tool_call_arguments_object"     one complete JSON object as JSON text (Gemini functionCall args;
                                       the input an Anthropic tool_use start block carries whole); a
                                       replacement is parsed back to an object (kept as a string if it is
                                       not a JSON object). Never split or hold part of it back.
      "tool_call_argument_string"      raw (unescaped) pieces of one string-valued argument (Vertex AI
                                       partialArgs stringValue), appended to the channel
    """

    channel: str
    kind: str
    text: str


@dataclass(slots=True)
class RequestRewrite:
    """Changes the decision asks for; an adapter applies them in its own body format."""

    model: str | None = None
    remove_tools: frozenset[str] = frozenset()
    max_output_tokens: int | None = None  # a cap: applied when the request asks for more or says nothing
    include_stream_usage: bool = False  # OpenAI chat: stream_options.include_usage = true

    def is_empty(self) -> bool:
        return (
            self.model is None
            and not self.remove_tools
            and self.max_output_tokens is None
            and not self.include_stream_usage
        )


class ProviderAdapter(Protocol):
    """One provider family's wire format. Implementations live one per module in this package."""

    name: str
    # Request headers that carry the client's credential in this provider's SDKs; ztgate reads them for
    # identity and removes them all before the request goes upstream.
    credential_headers: tuple[str, ...]

    def parse_request(self, route: Route, body: dict[str, Any]) -> LLMRequest:
        """Normalise a parsed request body; raise RequestError for a body the provider would reject."""
        ...

    def rewrite_request(self, route: Route, body: dict[str, Any], rewrite: RequestRewrite) -> bool:
        """Apply the rewrite to the body in place; return True when anything changed."""
        ...

    def upstream_auth_headers(self, credential: str) -> dict[str, str]:
        """The headers that present ztgate's provider credential upstream."""
        ...

    def parse_response(self, body: dict[str, Any], response: LLMResponse) -> None:
        """Fold a buffered JSON response body into response."""
        ...

    def parse_stream_event(self, event: SSEEvent, response: LLMResponse) -> None:
        """Fold one SSE event into response (text deltas, tool-call fragments, usage, errors)."""
        ...

    def stream_texts(self, event: SSEEvent) -> list[StreamText]:
        """The text deltas this event carries, in order; [] for events without any (pings, usage, [DONE]),
        and for data that is not JSON or has an unexpected shape. Never raises."""
        ...

    def rewrite_stream_event(self, event: SSEEvent, texts: list[str]) -> bytes:
        """The event re-encoded as SSE bytes (its `event:` line if it had one, `data: <json>`, blank line),
        with the i-th text delta of stream_texts(event) replaced by texts[i]. Everything else in the JSON is
        kept as it was (ids, indexes, finish reasons, usage), except token logprobs that describe a text
        that changed, which are dropped (they would repeat the original text token by token). Unchanged
        texts give exactly encode_event(event). ValueError when len(texts) differs from
        len(stream_texts(event)) or a text is not a str: the caller's bug, not the provider's."""
        ...

    def encode_event(self, event: SSEEvent) -> bytes:
        """An unchanged event re-encoded as SSE bytes in this provider's framing (for events released later
        than they arrived): its data kept verbatim, one `data: ` line per data line."""
        ...

    def error_body(self, status: int, message: str, code: str) -> bytes:
        """An error body in the provider's own format, so its SDK raises its usual exception."""
        ...

    def stream_error_event(self, status: int, message: str, code: str) -> bytes:
        """An error as one SSE event in the provider's streaming format (to end a stream cleanly)."""
        ...

    def rewrite_path(self, path: str, model: str) -> str | None:
        """The request path naming another model, for providers whose model lives in the path (Gemini,
        Azure deployments); None when the model is a body field (rewrite_request handles it)."""
        ...
