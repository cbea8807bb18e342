"""The fake upstream provider's modules (the entry point and its documentation: ../fake_provider.py).

common      provider-neutral core: knobs, conversation, answer, usage formulas, recorded requests
sse         SSE framing (event bytes, the piece-splicing hot path)
wire        HTTP plumbing every handler shares: the Dialect interface, admission, JSON/SSE responses
openai      OpenAI + Azure OpenAI: chat completions, embeddings, models
openai_responses  OpenAI Responses API
anthropic   Anthropic: messages, count_tokens, models
gemini      Gemini: generateContent, streamGenerateContent, countTokens, models
app         the route table, request recording, routes shared between providers
"""
