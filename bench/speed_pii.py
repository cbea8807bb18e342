"""How long the PII detector alone takes per text (a measurement, not a test).

    .venv/bin/python bench/speed_pii.py [--rounds 2000]

Texts: a ~4 KB chat prompt with a few entities (an email, a phone number, a card, an IBAN; dates,
code and numbers that are not PII), the same without any entity, and 64 KB inputs (the prompt
repeated; adversarial runs of digits, '@', hex-colon groups, letters) to show the cost is linear.
Times are this thread's CPU time (time.thread_time), so other work on the machine does not inflate them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from ztgate.detect.pii import PiiDetector  # noqa: E402

CHAT = """Hi! I'm preparing the Q3 report for our team and need some help restructuring it. Here is the
context: revenue grew 12.5% year over year to 1,234,567 USD, while costs rose by 3.2%. We opened 4 new
offices in 2024 and hired 57 people. The board meeting is on 2024-10-15 at 14:30 in room 4B.

Please rewrite the following paragraph so it sounds more professional, keep it under 200 words, and
make sure the numbers are consistent with the table below:

"Our customer base expanded a lot this year, mostly thanks to the new self-service onboarding flow
that we launched in March. Churn went down from 4.1% to 3.7%, and NPS went up by 6 points. The
support team handled 18,400 tickets with a median first response time of 2h 15m."

| Quarter | Revenue | Costs | Headcount |
|---------|---------|-------|-----------|
| Q1      | 280,000 | 190,000 | 112 |
| Q2      | 301,500 | 201,250 | 121 |
| Q3      | 325,900 | 207,800 | 134 |

Also, can you draft a short email to the finance contact, Jane Miller (jane.miller@example.com, phone
+1 415 555 0132), asking her to confirm the wire to IBAN DE89 3704 0044 0532 0130 00 and the card
ending in the corporate account 4111 1111 1111 1111 was charged correctly? Her assistant said the
invoice number is INV-2024-00917 and the PO is 4500012345.

Finally, here is a snippet from our deployment script that fails intermittently; explain why:

```python
import os, time, requests

def deploy(version: str, retries: int = 3) -> None:
    url = f"https://deploy.internal.example.com/api/v2/releases/{version}"
    for attempt in range(retries):
        resp = requests.post(url, timeout=30, json={"version": version, "attempt": attempt})
        if resp.status_code == 200:
            return
        time.sleep(2 ** attempt)
    raise RuntimeError(f"deploy {version} failed after {retries} attempts")
```

The error log shows: `2024-10-14T09:12:44Z ERROR release 1.14.2 timed out (took 30.01s)`.
We run 3 replicas behind a load balancer with 8 vCPUs and 32 GiB memory each.
Thanks a lot, and please keep the tone friendly but concise. Let me know if you need anything else.
"""
while len(CHAT) < 4096:
    CHAT += "We also track weekly active users, which reached 48,250 last week, up from 45,900. "
CHAT = CHAT[:4096]
PLAIN = "The quick brown fox jumps over the lazy dog while the team discusses quarterly plans. " * 50
PLAIN = PLAIN[:4096]


def measure(detector: PiiDetector, text: str, rounds: int) -> tuple[float, float, int]:
    detector.scan(text, "input")  # warm up
    times = []
    for _ in range(rounds):
        t0 = time.thread_time()
        findings = detector.scan(text, "input")
        times.append(time.thread_time() - t0)
    times.sort()
    return statistics.median(times) * 1e3, times[int(len(times) * 0.99)] * 1e3, len(findings)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=2000)
    args = ap.parse_args()
    detector = PiiDetector()
    big = 64 * 1024
    cases = {
        "4 KB chat, 4 entities": (CHAT, args.rounds),
        "4 KB prose, no digits": (PLAIN, args.rounds),
        "64 KB chat (prompt x16)": ((CHAT * 16)[:big], 50),
        "64 KB digits": ("7" * big, 20),
        "64 KB digits+spaces": ("12 " * (big // 3), 20),
        "64 KB '@' and words": ("a@b " * (big // 4), 20),
        "64 KB hex-colon": ("ab:" * (big // 3), 20),
        "64 KB letters": ("x" * big, 20),
        "64 KB card-like groups": ("4111 " * (big // 5), 20),
    }
    print("| text | p50 ms | p99 ms | findings |\n|---|---|---|---|")
    for name, (text, rounds) in cases.items():
        p50, p99, n = measure(detector, text, rounds)
        print(f"| {name} | {p50:.3f} | {p99:.3f} | {n} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
