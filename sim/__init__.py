"""The simulator: plant models, simulated actuators and virtual time for pc6band."""

__all__: list[str] = []
