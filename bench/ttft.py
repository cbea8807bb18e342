"""Time to first token through Envoy + ztgate, with content inspection on and off (alternating runs).

Run from the repo root: .venv/bin/python bench/ttft.py. The stream guard must not delay the first
token by more than 5 ms (issue: streamed output inspection); this measures what a client sees.
"""
import sys, json, time, tempfile, statistics
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests")); sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from conftest import write_config, gateway_env, start_gateway, ztgate_cli, JwtIssuer
from fake_provider import FakeProvider
from cryptography.hazmat.primitives.asymmetric import rsa
import openai, yaml
def measure(fp, inspect):
    tmp = Path(tempfile.mkdtemp())
    (tmp / "jwks.json").write_text(json.dumps(JwtIssuer(rsa.generate_private_key(public_exponent=65537, key_size=2048)).jwks()))
    cfg = write_config(tmp, fp.url, inspect={"enabled": inspect}); env = gateway_env()
    key = ztgate_cli(cfg, "keys", "create", "--subject", "s", "--group", "developers", env=env).stdout.strip()
    p = start_gateway(cfg, tmp / "up.log", env)
    c = yaml.safe_load(cfg.read_text())
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{c['listen']['port']}/v1", api_key=key, max_retries=0)
    ttfts = []
    for i in range(60):
        t = time.perf_counter()
        stream = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"tell me a story {i}"}], stream=True,
                                                extra_headers={"x-fake-chunks": "20", "x-fake-chunk-delay-ms": "5"})
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                ttfts.append((time.perf_counter() - t) * 1000); break
        for _ in stream: pass
    p.terminate(); p.wait()
    ttfts = ttfts[10:]
    return statistics.median(ttfts), sorted(ttfts)[int(len(ttfts) * 0.95)]
with FakeProvider(credentials={"openai": "sk-upstream-openai"}) as fp:
    for inspect in (False, True, False, True):
        print("inspect" if inspect else "no-inspect", "TTFT p50/p95 ms: %.2f / %.2f" % measure(fp, inspect))
