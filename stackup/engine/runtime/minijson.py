"""JSON through the `_json` C module alone: the shim and the launcher use it because the
`json` package pulls in `re` (memory in the shim, milliseconds in the launcher)."""

import _json


class _Ctx:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = None
    memo: dict = {}


# the C functions take any object with a decoder's attributes, and None for no markers
_scan = _json.make_scanner(_Ctx())  # type: ignore[arg-type]
_encode = _json.make_encoder(None, None, _json.encode_basestring_ascii, None,  # type: ignore[arg-type]
                             ": ", ", ", True, False, True)
encode_string = _json.encode_basestring_ascii


def loads(text):
    value, end = _scan(text, 0)
    return value


def dumps(value):
    return "".join(_encode(value, 0))


def load_file(path):
    with open(path) as f:
        return loads(f.read())
