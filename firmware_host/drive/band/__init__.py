"""band."""
