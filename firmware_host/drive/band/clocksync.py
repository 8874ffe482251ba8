"""How fast the band's crystal runs against the host's clock, from its acknowledgements.

Every ACK of firmware 0.2 carries the band's uptime when it handled the message
(``at_ms``), and so does the STATUS that answers a PING. The host knows only that this
moment lies between sending the message and receiving the answer. On a jittery BLE link the
midpoint of that interval is off by half the difference of the two one-way delays — tens of
milliseconds — and a rate fitted through midpoints needs many minutes to beat that (the
first version waited until its rate stood three standard errors clear of 0, and edges
drifted ~20 ms meanwhile at ±50 ppm).

What is certain is one-sided: a message never arrives before it is sent. So the band's
time minus the host's send time is the band's offset plus the delay *up*, never less than
the offset plus the shortest delay up; the band's time minus the receive time is the
offset minus the delay *down*. Each is a line (the offset drifting at the crystal's rate)
with the delays above it, or below it. The rate is the slope of the line that lies under
every "sent" point (the lower convex hull, taken where the samples' centre of mass is —
the linear program of Moon, Skelly and Towsley for clock skew), and likewise over every
"received" point; the two estimates are averaged. A delay needs to be near its floor only
now and then, in each direction separately, so the error shrinks like 1/samples rather
than 1/√samples, and a slow answer costs nothing: it is simply not on the hull.

Early on a hull rests on a handful of points, so the estimate is shrunk towards the prior
(crystals within about ±50 ppm) by its own uncertainty: the mean height of the points
above their line over the number of points and the baseline, plus how much the two
directions disagree. A short baseline moves the rate little from 0; there is no threshold
at which it switches on. Memory stays small all night: only the hull's corners and a few
sums are kept.

A band that restarted counts its uptime from 0 again; its crystal has not changed, so the
rate measured so far becomes the prior for the new count.

Windows are placed from their stream's anchor with the current rate (see ``window.py``),
so every window is re-anchored: a better rate corrects everything drifted so far, not
only what follows.
"""

from __future__ import annotations

import math

#: The spread of crystal rates the host expects before it has measured anything (ppm).
PRIOR_PPM = 50.0
#: The band counts whole milliseconds: a hull is never trusted closer than this (s).
QUANTUM_S = 0.001
#: How many times the points' mean height over their count a hull's end may be off.
HULL_SPREAD = 2.0
#: The host asks for extra samples (PINGs) until the estimate rests on this many.
PROBE_SAMPLES = 1200
#: A hull with more corners than this forgets its oldest (a jitter-free link piles them up).
MAX_CORNERS = 256


class _Hull:
    """The lower convex hull of points added left to right, and the sums of all of them."""

    def __init__(self) -> None:
        self.corners: list[tuple[float, float]] = []
        self.n = 0
        self.sx = self.sy = 0.0
        self.last_x = -math.inf

    def add(self, x: float, y: float) -> None:
        x = max(x, self.last_x)  # replies out of order by a hair: keep the hull monotone
        self.last_x = x
        self.n += 1
        self.sx += x
        self.sy += y
        c = self.corners
        if c and x == c[-1][0]:
            if y >= c[-1][1]:
                return
            c.pop()
        while len(c) >= 2:
            (x1, y1), (x2, y2) = c[-2], c[-1]
            if (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1) > 0:
                break
            c.pop()  # the new point sees under the last corner: it is not on the hull
        c.append((x, y))
        if len(c) > MAX_CORNERS:
            del c[0]

    def slope(self, span: float) -> tuple[float, float] | None:
        """(slope, its standard error) of the hull's edge under the centre of mass."""
        c = self.corners
        if len(c) < 2 or span <= 0:
            return None
        xm = self.sx / self.n
        (x1, y1), (x2, y2) = c[-2], c[-1]
        for a, b in zip(c, c[1:], strict=False):
            if b[0] >= xm:
                (x1, y1), (x2, y2) = a, b
                break
        k = (y2 - y1) / (x2 - x1)
        height = max(self.sy / self.n - (y1 + k * (xm - x1)), QUANTUM_S)
        se = (HULL_SPREAD * 2 * height / self.n + QUANTUM_S) / span
        return k, se


class ClockSync:
    """Running estimate of the band's clock against the host's (see the module docstring)."""

    def __init__(self) -> None:
        self._prior = (0.0, PRIOR_PPM * 1e-6)  # mean and sd of the rate offset before data
        self._n = 0
        self._fit: tuple[float, float] | None = None  # (rate offset, sd), until a new sample
        self._start_epoch()

    def _start_epoch(self) -> None:
        self._t0: float | None = None
        self._b0 = 0.0
        self._last_band_ms = -math.inf
        self._sent = _Hull()  # band time minus send time: offset + delay up, from below
        self._received = _Hull()  # receive time minus band time: delay down - offset
        self._span_end = 0.0

    def add(self, sent: float, received: float, band_ms: int) -> None:
        """One ACK: sent and answered at host times ``sent``/``received``, band time ``band_ms``."""
        rtt = received - sent
        if not (math.isfinite(sent) and math.isfinite(rtt) and rtt >= 0):
            return
        if band_ms < self._last_band_ms - 1:
            # The band restarted (its uptime began again): same crystal, new offset.
            self._prior = self._estimate()
            self._start_epoch()
        self._last_band_ms = band_ms
        if self._t0 is None:
            self._t0, self._b0 = sent, band_ms / 1000
        band = band_ms / 1000 - self._b0
        xs, xr = sent - self._t0, received - self._t0
        self._sent.add(xs, band - xs)
        self._received.add(xr, xr - band)
        self._span_end = max(self._span_end, xr)
        self._n += 1
        self._fit = None

    @property
    def samples(self) -> int:
        """How many samples have been offered."""
        return self._n

    def wants_samples(self) -> bool:
        """True while extra samples (PINGs timed like ACKs) would still firm up the rate."""
        return self._n < PROBE_SAMPLES

    def ppm(self) -> float:
        """The band's clock rate against the host's, parts per million (see above)."""
        return self._estimate()[0] * 1e6

    def rate(self) -> float:
        """Band milliseconds per host millisecond."""
        return 1.0 + self._estimate()[0]

    def _estimate(self) -> tuple[float, float]:
        """The rate offset (band s per host s, minus 1) and its standard error."""
        if self._fit is None:
            self._fit = self._combine()
        return self._fit

    def _combine(self) -> tuple[float, float]:
        prior, prior_sd = self._prior
        up = self._sent.slope(self._span_end)
        down = self._received.slope(self._span_end)
        if up is None or down is None:
            return prior, prior_sd
        (k_up, se_up), (k_down, se_down) = up, (-down[0], down[1])
        w_up, w_down = 1 / se_up**2, 1 / se_down**2
        k = (k_up * w_up + k_down * w_down) / (w_up + w_down)
        # Two directions that disagree say the hulls are not there yet.
        var = 1 / (w_up + w_down) + (k_up - k_down) ** 2
        w_prior = 1 / prior_sd**2
        w_data = 1 / var
        mean = (prior * w_prior + k * w_data) / (w_prior + w_data)
        return mean, math.sqrt(1 / (w_prior + w_data))
