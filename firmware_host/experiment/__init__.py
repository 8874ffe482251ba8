"""Personal experiments: randomized nights, a morning diary, tracker imports, an analysis."""
