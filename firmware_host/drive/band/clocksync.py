"""How fast the band's crystal runs against the host's clock, from its acknowledgements.

Every ACK of firmware 0.2 carries the band's uptime when it handled the message
(``at_ms``). The host knows only that this moment lies between sending the message and
receiving the answer, so each sample is a band time against a host interval. The rate comes
from a least-squares line through the samples whose round trip is close to the shortest seen
(those pin the band's moment best), kept as running sums so memory does not grow with the
night. A fresh estimate is noisy, so it is shrunk towards 0 ppm by its own standard error
against the prior spread of crystals (±50 ppm), and used only once it stands three standard errors
clear of 0: early in the night the host assumes the band's clock is right (a rate drawn
from the link's jitter would move edges more than the crystal does), and trusts the
measured rate as it firms up. Because windows are placed from the stream's anchor with the
current rate, a better rate corrects everything drifted so far, not only what follows.
"""

from __future__ import annotations

import math

#: The spread of crystal rates the host expects before it has measured anything.
PRIOR_PPM = 50.0
#: A sample counts if its round trip is within this of the shortest seen (plus 50 %).
RTT_SLACK_S = 0.005
#: A rate is used only once it stands this many standard errors clear of 0.
SIGNIFICANT = 3.0
#: No estimate from fewer samples than this.
MIN_SAMPLES = 10


class ClockSync:
    """Running estimate of the band's clock against the host's (see the module docstring)."""

    def __init__(self) -> None:
        self._min_rtt = math.inf
        self._t0: float | None = None
        self._b0 = 0.0
        self._n = 0
        self._sx = self._sy = self._sxx = self._sxy = self._syy = 0.0

    def add(self, sent: float, received: float, band_ms: int) -> None:
        """One ACK: sent and answered at host times ``sent``/``received``, band time ``band_ms``."""
        rtt = received - sent
        if not (math.isfinite(rtt) and rtt >= 0):
            return
        self._min_rtt = min(self._min_rtt, rtt)
        if rtt > self._min_rtt * 1.5 + RTT_SLACK_S:
            return
        mid = (sent + received) / 2
        if self._t0 is None:
            self._t0, self._b0 = mid, band_ms / 1000
        x = mid - self._t0
        y = band_ms / 1000 - self._b0 - x  # the band's lead over the host, seconds
        self._n += 1
        self._sx += x
        self._sy += y
        self._sxx += x * x
        self._sxy += x * y
        self._syy += y * y

    @property
    def samples(self) -> int:
        """How many samples the estimate rests on."""
        return self._n

    def ppm(self) -> float:
        """The band's clock rate against the host's, parts per million, shrunk as above."""
        n = self._n
        if n < MIN_SAMPLES:
            return 0.0
        sxx = self._sxx - self._sx * self._sx / n
        if sxx <= 0:
            return 0.0
        sxy = self._sxy - self._sx * self._sy / n
        syy = self._syy - self._sy * self._sy / n
        slope = sxy / sxx
        # The band's moment lies anywhere in a round trip: never trust a sample more than
        # that (a few lucky residuals must not make an early estimate look firm).
        floor = (self._min_rtt / 6) ** 2 + (0.0005**2) / 3
        resid = max(floor, max(0.0, syy - slope * sxy) / max(1, n - 2))
        se = math.sqrt(resid / sxx) * 1e6
        if abs(slope * 1e6) < SIGNIFICANT * se:
            return 0.0  # not told apart from the link's jitter yet: assume the band is right
        prior = PRIOR_PPM
        weight = prior * prior / (prior * prior + se * se)
        return slope * 1e6 * weight

    def rate(self) -> float:
        """Band milliseconds per host millisecond."""
        return 1.0 + self.ppm() * 1e-6
