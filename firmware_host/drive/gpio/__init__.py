"""gpio."""
