"""``pc6 web``: the bedside page. It speaks to the daemon only through the control socket."""
