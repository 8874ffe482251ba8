"""An experiment's schedule: nights randomized in blocks from a secret seed, committed.

The schedule is derived from the seed with HMAC-SHA256, one draw per block, so it can be
re-derived bit for bit after unblinding on any machine and any version of numpy. The
commitment is a SHA-256 over the plan *and the seed*: the schedule alone has too few
possibilities (2^28 for 56 nights in pairs) to be hidden by a hash, the seed is not.

Arms are written ``A`` (active) and ``C`` (control); run-in nights are ``R`` (diary only).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import secrets
from dataclasses import dataclass

ACTIVE, CONTROL, RUN_IN = "A", "C", "R"
BLOCK_SIZES = (2, 4)


def arrangements(block: int) -> list[str]:
    """Every balanced order of one block: ``AC``/``CA`` for pairs, the six of ``AACC``."""
    half = block // 2
    return sorted({"".join(p) for p in itertools.permutations(ACTIVE * half + CONTROL * half)})


def new_seed() -> str:
    """A fresh secret seed (128 bits, hex)."""
    return secrets.token_hex(16)


def derive_arms(seed: str, name: str, nights: int, block: int) -> str:
    """The allocation of ``nights`` randomized nights, one letter per night.

    Raises:
        ValueError: ``nights`` is not a positive multiple of ``block``.
    """
    if block not in BLOCK_SIZES or nights <= 0 or nights % block:
        raise ValueError(f"nights must be a positive multiple of the block size {block}")
    options = arrangements(block)
    key = bytes.fromhex(seed)
    out = []
    for i in range(nights // block):
        digest = hmac.new(key, f"{name}|block|{i}".encode(), hashlib.sha256).digest()
        out.append(options[int.from_bytes(digest, "big") % len(options)])
    return "".join(out)


@dataclass(frozen=True)
class Design:
    """What is fixed at plan time and covered by the commitment."""

    name: str
    start: dt.date  # the first night (run-in first)
    run_in: int
    nights: int  # randomized nights, after the run-in
    block: int
    active: str
    control: str
    outcome: str
    better: str

    def schedule(self, seed: str) -> list[tuple[dt.date, str]]:
        """Every night of the experiment with its letter (``R``, ``A`` or ``C``)."""
        letters = RUN_IN * self.run_in + derive_arms(seed, self.name, self.nights, self.block)
        return [(self.start + dt.timedelta(days=i), x) for i, x in enumerate(letters)]

    def commitment(self, seed: str) -> str:
        """SHA-256 (hex) of the canonical plan, its schedule and the seed."""
        body = {
            "v": 1,
            "name": self.name,
            "start": self.start.isoformat(),
            "run_in": self.run_in,
            "nights": self.nights,
            "block": self.block,
            "active": self.active,
            "control": self.control,
            "outcome": self.outcome,
            "better": self.better,
            "schedule": "".join(x for _, x in self.schedule(seed)),
            "seed": seed,
        }
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()
