"""An example application for the sidecar overlay: it asks an LLM through the ztgate sidecar.

GET /healthz -> 200; GET /ask?q=... -> the model's answer, or ztgate's refusal as the provider's error.
It speaks the OpenAI API with the standard library only; a real app would use the OpenAI SDK, which
reads the same OPENAI_BASE_URL (http://127.0.0.1:8080/v1, the sidecar Envoy) and OPENAI_API_KEY
(a ztgate API key, never a provider key).
"""

import json
import os
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

BASE_URL = os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1").rstrip("/")
MODEL = os.environ.get("LLM_MODEL", "gpt-4o-mini")


def ask(question: str) -> tuple[int, bytes]:
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": question}]}).encode()
    request = urllib.request.Request(
        BASE_URL + "/chat/completions",
        data=body,
        headers={"content-type": "application/json", "authorization": "Bearer " + os.environ.get("OPENAI_API_KEY", "")},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = json.load(response)["choices"][0]["message"]["content"]
            return 200, (answer + "\n").encode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        if url.path == "/healthz":
            status, body = 200, b"ok\n"
        elif url.path == "/ask":
            status, body = ask(parse_qs(url.query).get("q", ["Say hello."])[0])
        else:
            status, body = 404, b"GET /ask?q=... or /healthz\n"
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
