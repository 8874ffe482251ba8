"""pc6band host: profiles, timeline, engine, safety gate and backends for a PC6 wristband."""

__version__ = "0.1.0"
__all__ = ["__version__"]
