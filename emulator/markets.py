"""The `market` query parameter, checked the way Spotify checks it.

Spotify takes an ISO 3166-1 alpha-2 code in capitals, or `from_token` (the country of
the user the access token belongs to); anything else, such as `XX`, `es` or `ESP`, gets
400 "Invalid market code" (seen from the live service, e.g. spotipy-dev/spotipy#850).
"""

from http import HTTPStatus

from .oauth import ApiError

FROM_TOKEN = "from_token"  # noqa: S105 - a parameter value, not a secret
INVALID_MARKET_MESSAGE = "Invalid market code"

# Every officially assigned ISO 3166-1 alpha-2 code, plus XK (Kosovo), a user-assigned
# code that Spotify lists among its markets.
ISO_3166_ALPHA_2 = frozenset((
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW", "XK",
))  # fmt: skip


def requested_market(raw: str | None, *, user_country: str) -> str | None:
    """The market a request asks for: None without the parameter, the user's country for
    `from_token`, else the code itself. Raises ApiError (400) for anything else, an empty
    value included."""
    if raw is None:
        return None
    if raw == FROM_TOKEN:
        return user_country
    if raw in ISO_3166_ALPHA_2:
        return raw
    raise ApiError(HTTPStatus.BAD_REQUEST, INVALID_MARKET_MESSAGE)
