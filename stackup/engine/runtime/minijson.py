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


_WHITESPACE = " \t\n\r"


def loads(text):
    """As json.loads: one JSON value, whitespace around it allowed; else ValueError."""
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as stop:  # the C scanner's "no value here"
        raise ValueError("not JSON (at character %d)" % stop.value) from None
    except ValueError as exc:  # json.decoder's error, when json is loaded
        raise ValueError("not JSON: %s" % exc) from None
    except SystemError:
        # a malformed value deeper in: the scanner raises json.decoder's error only when
        # json.decoder is loaded already, and otherwise fails without an exception
        raise ValueError("not JSON") from None
    if text[end:].strip(_WHITESPACE):
        raise ValueError("not JSON: extra data at character %d" % end)
    return value


def dumps(value):
    return "".join(_encode(value, 0))
