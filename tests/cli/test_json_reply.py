"""`pc6 ctl` decodes the daemon's reply exactly as json.loads does, without importing json."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from startup_testlib import bare_python

from firmware_host.cli.json_reply import decode

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and the infinities too: json.dumps writes them, json.loads reads them
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


def _same(a: object, b: object) -> bool:
    # NaN is not equal to itself; its JSON spelling is.
    return json.dumps(a) == json.dumps(b)


@given(JSON_VALUES, st.sampled_from([None, 2]), st.booleans())
def test_any_reply_decodes_as_json_loads_decodes_it(
    value: object, indent: int | None, ascii_only: bool
) -> None:
    data = (json.dumps(value, indent=indent, ensure_ascii=ascii_only) + "\n").encode()
    assert _same(decode(data), json.loads(data))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n",
        b"{not json\n",
        b'{"a": }\n',
        b'{"a": 1} {"b": 2}\n',
        b'{"a": 1}x',
        b'"\\ud800"',  # a lone surrogate: json.loads accepts it, so must this
        b"[1, 2,]",
        b'{"a" 1}',
        b'"unterminated',
        b'"tab\tinside"',
        b"\xff\xfe",
        b"nan",
        b" \t\r\n 7 \t\r\n",
    ],
)
def test_odd_replies_decode_or_fail_as_json_loads_does(data: bytes) -> None:
    try:
        expected = json.loads(data.decode("utf-8"))
    except ValueError as err:
        with pytest.raises(ValueError) as caught:
            decode(data)
        assert type(caught.value) is type(err)
    else:
        assert _same(decode(data), expected)


def test_a_reply_decodes_without_importing_json() -> None:
    run = bare_python(
        "import sys; from firmware_host.cli.json_reply import decode; "
        'print(decode(b\'{"ok": true, "cmd": "stop"}\\n\'), '
        "sorted({'json', 're', 'enum'} & set(sys.modules)))"
    )
    assert run.stdout == "{'ok': True, 'cmd': 'stop'} []\n", run
