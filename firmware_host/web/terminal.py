"""What ``pc6 web`` prints for a person at the terminal: a pairing code and its QR code."""

from __future__ import annotations


def show_code(code: str, url: str) -> None:
    """Print a pairing code, its link and the link as a QR code."""
    link = f"{url}/pair?code={code}"
    print(f"pairing code: {code[:4]} {code[4:]}  (single use, valid 10 minutes)")
    print(f"open {url}/pair on the phone, or scan:")
    try:
        import segno
    except ImportError:
        print(f"  {link}\n  (install pc6band[web] for a QR code here)")
        return
    segno.make(link, error="m").terminal(compact=True)
    print(f"  {link}", flush=True)
