"""schemathesis hooks for fuzz/run.sh (named by `hooks =` in schemathesis.toml).

Why: the spec's schemas are looser than the spec's own text. `Pin.cid` and the items of the `cid`
query parameter are a bare `type: string`, but the text calls them a "Content Identifier (CID)";
`Pin.origins` items are a bare `type: string`, but the text calls them "multiaddr lists" (section
"Provider hints"). Where the spec asks for bounds without giving them, docs/behaviour.md sets them
(meta: keys at most 255 characters, at most 1000 keys, 16 KiB as JSON; body 64 KiB). Every operation
lists `400 BadRequest` (and `4XX`). So a random string that schemathesis calls schema-valid
("positive") may be a request the worker is right to refuse.

What, and nothing else:
  * `add_links` (before_load_schema): the spec has no OpenAPI `links`, and schemathesis cannot infer
    them (it does not tie `PinStatus.requestid` to `{requestid}`), so the stateful phase would not run.
    This adds the links the spec's text describes ("requestid ... can be used for checking status, and
    removing the pin"; replace returns "the new pin object requestid"): the requestid of POST /pins and
    of POST /pins/{requestid} (202) feeds GET/POST/DELETE /pins/{requestid}. (Not GET /pins: its
    `results` may be empty, which schemathesis reports as a link it could not resolve.)
    It only adds `links` to the loaded copy; no schema, parameter or response is changed.
  * `realistic_values` (map_case, both generation modes): in about 4 cases out of 5, every cid string
    that is not a real CID becomes one of the real CIDs below, and every origin string that is not a
    multiaddr becomes one of the multiaddrs below (distinct strings stay distinct and equal ones stay
    equal, so uniqueItems/maxItems mutations of negative cases survive; an empty `cid=`, the wire form of
    the empty list that minItems forbids, is left as it is). The positive cases then get
    past the CID parser to the rest of the API, and negative cases are refused for the mutation
    schemathesis made rather than for the CID. The 1 case in 5 left alone keeps fuzzing the parsers.
  * `documented_rejection` (filter_failure): drops a `positive_data_acceptance` failure only when the
    response is 400 BAD_REQUEST whose `details` name a field (`"<field>: ..."`) that the request
    really filled with something the spec text or docs/behaviour.md lets the worker refuse (see
    `_refusable_fields`: a cid that is not a CID, an origin without a multiaddr's shape, a meta over the
    documented bounds), or 413 PAYLOAD_TOO_LARGE for a body over 64 KiB. A 400 naming any other field,
    or a 400 for a real CID / a multiaddr-shaped origin / an in-bounds meta, is still reported; so is
    any refusal of a `name` (the worker takes every name the schema allows) or of a `meta` filter.
"""

from __future__ import annotations

import hashlib
import json
import random
import unicodedata

import schemathesis

# --- real CIDs and multiaddrs -------------------------------------------------------------------------

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _positional(data: bytes, alphabet: str) -> str:
    """`data` as a big-endian number in the digits of `alphabet` (base58btc, base36)."""
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, len(alphabet))
        out = alphabet[r] + out
    return out


def _b58(data: bytes) -> str:
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + _positional(data, _B58)


def _b32(data: bytes) -> str:
    bits = "".join(f"{b:08b}" for b in data)
    bits += "0" * (-len(bits) % 5)
    return "".join(_B32[int(bits[i : i + 5], 2)] for i in range(0, len(bits), 5))


def _b36(data: bytes) -> str:
    return _positional(data, _B36)


def _multihash(seed: str) -> bytes:
    return b"\x12\x20" + hashlib.sha256(seed.encode()).digest()  # sha2-256


def _cids(seed: int) -> list[str]:
    multihash = _multihash(f"fuzz-cid-{seed}")
    v1_dag_pb = b"\x01\x70" + multihash
    v1_raw = b"\x01\x55" + multihash
    return [
        _b58(multihash),  # CIDv0 (Qm...)
        "b" + _b32(v1_dag_pb),  # CIDv1 base32 (bafy...)
        "b" + _b32(v1_raw),  # CIDv1 raw codec (bafk...)
        "B" + _b32(v1_dag_pb).upper(),  # base32upper
        "z" + _b58(v1_dag_pb),  # base58btc
        "k" + _b36(v1_dag_pb),  # base36
        "f" + v1_raw.hex(),  # base16
    ]


CID_POOL: list[str] = [cid for seed in range(8) for cid in _cids(seed)]
MULTIADDR_POOL: list[str] = [
    f"/ip4/198.51.100.{i}/tcp/4001/p2p/{_b58(_multihash(f'fuzz-peer-{i}'))}" for i in range(1, 31)
] + [f"/dns4/peer{i}.example.org/udp/4001/quic-v1/p2p/{_b58(_multihash(f'fuzz-dns-{i}'))}" for i in range(1, 31)]
REAL_CIDS = frozenset(CID_POOL)
REAL_MULTIADDRS = frozenset(MULTIADDR_POOL)
LEAVE_ALONE = 0.2  # share of cases whose generated cid/origin strings are sent as generated


def _rng(*parts: object) -> random.Random:
    seed = json.dumps(parts, sort_keys=True, default=repr, ensure_ascii=True)
    return random.Random(hashlib.sha256(seed.encode()).digest())


def _substitute(values: list, pool: list[str], real: frozenset[str], rng: random.Random) -> list:
    """Map each distinct string not in `real` to a distinct pool entry; keep everything else."""
    fresh = [p for p in pool if p not in values]
    rng.shuffle(fresh)
    mapping: dict[str, str] = {}
    out = []
    for v in values:
        if isinstance(v, str) and v not in real:
            if v not in mapping:
                if not fresh:
                    return values  # more distinct strings than the pool holds: leave them
                mapping[v] = fresh.pop()
            out.append(mapping[v])
        else:
            out.append(v)
    return out


@schemathesis.hook("map_case")
def realistic_values(context, case):
    body = case.body if isinstance(case.body, dict) else None
    query = case.query if isinstance(case.query, dict) else None
    # Seeded by the strings it may replace, not by the whole case: other values (a `before` drawn from
    # an observed `created`, say) differ from run to run, and the same seed must give the same run.
    rng = _rng(
        case.method,
        case.path,
        body.get("cid") if body else None,
        body.get("origins") if body else None,
        query.get("cid") if query else None,
    )
    if rng.random() < LEAVE_ALONE:
        return case
    if body is not None:
        new = dict(body)
        if isinstance(body.get("cid"), str):
            new["cid"] = _substitute([body["cid"]], CID_POOL, REAL_CIDS, rng)[0]
        if isinstance(body.get("origins"), list):
            new["origins"] = _substitute(body["origins"], MULTIADDR_POOL, REAL_MULTIADDRS, rng)
        if new != body:
            case.body = new
    if query is not None and "cid" in query:
        raw = query["cid"]
        if isinstance(raw, list):
            case.query = {**query, "cid": _substitute(raw, CID_POOL, REAL_CIDS, rng)}
        elif isinstance(raw, str) and raw:  # already serialised as `a,b,c`; "" is the empty list
            case.query = {**query, "cid": ",".join(_substitute(raw.split(","), CID_POOL, REAL_CIDS, rng))}
    return case


# --- OpenAPI links the spec's text implies ----------------------------------------------------------

_ITEM_OPS = {"GetPin": "getPinByRequestId", "ReplacePin": "replacePinByRequestId", "DeletePin": "deletePinByRequestId"}


def _links(expression: str) -> dict:
    return {
        name: {"operationId": op, "parameters": {"requestid": expression}} for name, op in _ITEM_OPS.items()
    }


@schemathesis.hook("before_load_schema")
def add_links(context, raw_schema):
    paths = raw_schema.get("paths", {})
    sources = [
        (("/pins", "post", "202"), "$response.body#/requestid"),
        (("/pins/{requestid}", "post", "202"), "$response.body#/requestid"),
    ]
    for (path, method, status), expression in sources:
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if isinstance(response, dict) and "$ref" not in response:
            response.setdefault("links", {}).update(_links(expression))


# --- which fields of a request the worker may refuse, by the spec's text or docs/behaviour.md ----------


def _query_cids(query: dict) -> list:
    raw = query.get("cid")
    items = raw if isinstance(raw, list) else [raw]
    out: list = []
    for item in items:
        out.extend(item.split(",") if isinstance(item, str) else [item])
    return out


def _meta_refusable(meta: object) -> bool:
    # docs/behaviour.md: "at most 1000 keys, each key at most 255 characters (the empty key too), whole
    # object at most 16 KiB as compact JSON (escapes included)"; characters are code points, as len()
    # counts them.
    if not isinstance(meta, dict):
        return False
    if len(meta) > 1000 or any(len(k) > 255 for k in meta):
        return True
    as_json = json.dumps(meta, ensure_ascii=False, separators=(",", ":"))
    return len(as_json.encode("utf-8", "surrogatepass")) > 16 * 1024


def _origin_refusable(origin: object) -> bool:
    # docs/behaviour.md: each origin is "a string of a multiaddr's shape (`/` and a protocol name first,
    # so not `/` alone nor `//…`) with no whitespace or control characters, at most 1024 bytes; private
    # addresses and unfamiliar protocols are kept"; the spec's text: origins are multiaddrs. A refusal
    # of any other origin is reported.
    if not isinstance(origin, str):
        return False
    return (
        len(origin.encode("utf-8", "surrogatepass")) > 1024
        or not origin.startswith("/")
        or origin[1:].split("/", 1)[0] == ""
        or any(c.isspace() or unicodedata.category(c) == "Cc" for c in origin)
    )


def _refusable_fields(case) -> set[str]:
    fields: set[str] = set()
    body = case.body if isinstance(case.body, dict) else {}
    if "cid" in body and body["cid"] not in REAL_CIDS:
        fields.add("cid")  # spec: "Content Identifier (CID)"; docs/behaviour.md: parsed as CIDv0/CIDv1
    origins = body.get("origins")
    if isinstance(origins, list) and any(_origin_refusable(o) for o in origins):
        fields.add("origins")
    if _meta_refusable(body.get("meta")):
        fields.add("meta")
    query = case.query if isinstance(case.query, dict) else {}
    # Deliberately absent: `name` (in the body or as a filter, any string up to the schema's maxLength
    # is taken) and the `meta` filter of GET /pins (docs/behaviour.md says only "URL-encoded JSON object
    # of strings" there), so a 400 for either stays reported.
    if "cid" in query and any(c not in REAL_CIDS for c in _query_cids(query)):
        fields.add("cid")
    return fields


@schemathesis.hook("filter_failure")
def documented_rejection(context, failure, case, response):
    """Return False (drop) only for a refusal that the spec text or docs/behaviour.md allows."""
    if "positive_data_acceptance" not in getattr(failure, "checks", ()):
        return True
    try:
        error = json.loads(response.content)["error"]
        reason, details = error.get("reason"), str(error.get("details", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return True
    if response.status_code == 413 and reason == "PAYLOAD_TOO_LARGE":
        # docs/behaviour.md: "Body: JSON, at most 64 KiB (413 Failure PAYLOAD_TOO_LARGE above)".
        sent = response.request.body or b""
        return len(sent) <= 64 * 1024
    if response.status_code != 400 or reason != "BAD_REQUEST":
        return True
    field = details.split(":", 1)[0].strip()
    return field not in _refusable_fields(case)
