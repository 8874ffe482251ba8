"""The built-in profile library (``profiles/*.toml``, installed as ``pc6_profiles``)."""

from __future__ import annotations

from difflib import get_close_matches
from importlib.resources import files
from pathlib import Path

from firmware_host.errors import ProfileError
from firmware_host.plan.profile import Profile, load_profile, parse_profile


def library_names() -> list[str]:
    """Names of the built-in profiles."""
    root = files("pc6_profiles")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def load_builtin(name: str) -> Profile:
    """A built-in profile by name."""
    resource = files("pc6_profiles") / f"{name}.toml"
    return parse_profile(resource.read_bytes(), source=f"profiles/{name}.toml")


def resolve(name_or_path: str) -> Profile:
    """A profile from a file path, or else from the library by name.

    Raises:
        ProfileError: no such file or profile (with the closest names), or invalid.
    """
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists() or "/" in name_or_path:
        return load_profile(path)
    names = library_names()
    if name_or_path in names:
        return load_builtin(name_or_path)
    hint = get_close_matches(name_or_path, names, n=3)
    extra = f"; did you mean {', '.join(hint)}?" if hint else f"; built-in: {', '.join(names)}"
    raise ProfileError(
        f"no profile file or built-in profile named {name_or_path!r}{extra}", source=name_or_path
    )
