"""Masks secrets in whatever xdsspy saves for sharing: resource JSON, config dumps, headers, free text.

Every "save for sharing" path (the terminal UI's saves, snapshot, diff, export,
bundle) runs its output through one `Redactor`. `SECRET_FIELDS` is the whole
rule set, one entry per masked field, header, key word or text pattern; it
covers every field Envoy's API marks `(udpa.annotations.sensitive)`, which
Envoy itself redacts in /config_dump but which crosses the xDS wire in clear.

A secret becomes `[redacted:3f9a1c2e]`: a keyed blake2b hash of its bytes, so
two saves made with one `Redactor` show whether a secret changed without
showing it. The salt is random per `Redactor` unless given: a diff of two
snapshots must redact both with the same `Redactor` (or salt), and a salt
given by hand is itself a secret (whoever holds it can test guesses). Values
already redacted (Envoy's `[redacted]`, or a marker from an earlier pass) stay
as they are. Base64 bytes fields (`inline_bytes`, `raw_value`) get the base64
of the marker, as Envoy does, so the document still loads as protobuf JSON.

Names are not secrets: an SDS reference (`name` + `sds_config`), a
DataSource's `filename` or `environment_variable` (Envoy reads the secret from
that file or variable), `secret_name`, `token_uri` and the like stay visible.
Public material stays too: certificate chains, trusted CAs, OCSP staples and
JWKS public keys. Numbers and booleans are never masked. Pure functions of
their input: no I/O, no UI imports.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import hashlib
import json
import re
import secrets
import typing
from collections.abc import Iterable
from typing import Any

from xdsspy import model
from xdsspy.decode import tree

REDACTED = "[redacted]"
"""What Envoy prints for a value it redacted itself (MessageUtil::redact)."""

TOO_DEEP = "[redacted:nested too deep]"
"""Replaces a part nested deeper than MAX_DEPTH: it cannot be inspected, so it is not shown."""

MAX_DEPTH = 200

NOT_REDACTED_WARNING = (
    "WARNING: saved WITHOUT redaction (--no-redact). This file holds every secret exactly as it "
    "crossed the wire: TLS private keys, passwords, tokens, authorization headers, cookies. "
    "Do not share it, attach it to an issue or commit it; save again without --no-redact to share."
)


class Mask(enum.StrEnum):
    """How an entry of SECRET_FIELDS is masked."""

    VALUE = "value"  # the string, or a DataSource's inline_bytes/inline_string (each item of a list)
    MAP = "map"  # every value of a map, each as VALUE
    SUBTREE = "subtree"  # every string under it; "@type" and map keys stay
    JWKS = "jwks"  # a JWKS: kept while every key is public, else as VALUE
    HEADER = "header"  # the value of a header of this name, wherever headers appear
    WORD = "word"  # the string or inline DataSource under any key holding this word
    DATA_WORD = "data_word"  # an inline DataSource (only) under any key holding this word
    TEXT = "text"  # a pattern found inside any string, header value or free text


@dataclasses.dataclass(frozen=True, slots=True)
class SecretField:
    """One masking rule: `name` is a JSON key, header name, key word or pattern name (per `mask`)."""

    name: str
    mask: Mask
    holder: str  # which Envoy type holds it, for the docs and the UI's help
    within: str = ""  # the parent key or enclosing "@type" message it must sit in; "" = anywhere


_F = SecretField
_M = Mask
_BASIC_AUTH = "envoy.extensions.filters.http.basic_auth.v3.BasicAuth"
SECRET_FIELDS: tuple[SecretField, ...] = (
    # TLS
    _F(
        "private_key", _M.VALUE, "TlsCertificate, GoogleGrpc.SslCredentials, aws IAMRolesAnywhere: DataSource"
    ),
    _F("password", _M.VALUE, "TlsCertificate.password: DataSource, the private key's passphrase"),
    _F("pkcs12", _M.VALUE, "TlsCertificate.pkcs12: DataSource, certificate chain and private key together"),
    _F("keys", _M.VALUE, "TlsSessionTicketKeys.keys: DataSources", within="session_ticket_keys"),
    _F("typed_config", _M.SUBTREE, "PrivateKeyProvider.typed_config", within="private_key_provider"),
    _F("config", _M.SUBTREE, "PrivateKeyProvider.config (v2 Struct)", within="private_key_provider"),
    # SDS Secret resources (tls_certificate and session_ticket_keys are covered above)
    _F("secret", _M.VALUE, "GenericSecret.secret: DataSource", within="generic_secret"),
    _F("secrets", _M.MAP, "GenericSecret.secrets: map of DataSources", within="generic_secret"),
    # HTTP authentication and credentials; SdsSecretConfig references keep their names
    _F("hmac_secret", _M.VALUE, "oauth2 OAuth2Credentials.hmac_secret: SdsSecretConfig, or inline"),
    _F("token_secret", _M.VALUE, "oauth2 OAuth2Credentials.token_secret: SdsSecretConfig, or inline"),
    _F("client_secret", _M.VALUE, "injected_credentials oauth2 ClientCredentials.client_secret"),
    _F("credential", _M.VALUE, "injected_credentials generic Generic.credential: SdsSecretConfig"),
    _F("users", _M.VALUE, "basic_auth BasicAuth.users: DataSource of htpasswd lines", within=_BASIC_AUTH),
    _F("users", _M.VALUE, "basic_auth BasicAuthPerRoute.users", within=_BASIC_AUTH + "PerRoute"),
    _F("key", _M.VALUE, "api_key_auth Credential.key; its client name stays", within="credentials"),
    # Public keys verify tokens and cannot sign them; Envoy does not redact them either.
    _F("local_jwks", _M.JWKS, "jwt_authn JwtProvider.local_jwks: masked if a key is symmetric or private"),
    _F("context_extensions", _M.SUBTREE, "ext_authz CheckSettings.context_extensions (Envoy: sensitive)"),
    # Redis
    _F("auth_password", _M.VALUE, "redis_proxy RedisProtocolOptions (and .Credential): DataSource"),
    _F("auth_username", _M.VALUE, "redis_proxy RedisProtocolOptions (Envoy: sensitive): DataSource"),
    _F("downstream_auth_password", _M.VALUE, "redis_proxy RedisProxy: DataSource"),
    _F("downstream_auth_passwords", _M.VALUE, "redis_proxy RedisProxy: DataSources"),
    _F("downstream_auth_username", _M.VALUE, "redis_proxy RedisProxy (Envoy: sensitive): DataSource"),
    # gRPC call credentials, cloud credentials, tracers
    _F("secret_data", _M.VALUE, "FileBasedMetadata call credentials: DataSource"),
    _F("access_token", _M.VALUE, "GoogleGrpc.CallCredentials (string), LightstepConfig (DataSource)"),
    _F("google_refresh_token", _M.VALUE, "GoogleGrpc.CallCredentials.google_refresh_token"),
    _F("json_key", _M.VALUE, "ServiceAccountJWTAccessCredentials.json_key: a key file, private key included"),
    _F("authorization_token", _M.VALUE, "GoogleGrpc GoogleIAMCredentials.authorization_token"),
    _F("token", _M.VALUE, "call_credentials AccessTokenCredentials, GoogleRefreshTokenCredentials"),
    _F("credentials_data_source", _M.VALUE, "aws CredentialsFileCredentialProvider: DataSource"),
    _F("web_identity_token_data_source", _M.VALUE, "aws AssumeRoleWithWebIdentity: DataSource"),
    _F("secret_access_key", _M.VALUE, "aws InlineCredentialProvider, aws_lambda Credentials"),
    _F("session_token", _M.VALUE, "aws InlineCredentialProvider, aws_lambda Credentials"),
    _F("backend_token", _M.VALUE, "SkyWalking ClientConfig.backend_token"),
    # Headers: recorded metadata, HeaderValue {key, value}, HeaderMatcher {name, ...}, header maps
    _F("authorization", _M.HEADER, "HTTP/gRPC header; the auth scheme (Bearer, Basic) stays"),
    _F("proxy-authorization", _M.HEADER, "HTTP header; the auth scheme stays"),
    _F("cookie", _M.HEADER, "HTTP header (as a JSON key, only values holding '=': cookie names stay)"),
    _F("set-cookie", _M.HEADER, "HTTP header (as a JSON key, only values holding '=')"),
    _F("x-api-key", _M.HEADER, "HTTP header"),
    # Key words, for Struct, node metadata, schema-less decodes and header names (x-auth-token)
    _F("password", _M.WORD, "any key or header name"),
    _F("passwd", _M.WORD, "any key or header name"),
    _F("passphrase", _M.WORD, "any key or header name"),
    _F("secret", _M.WORD, "any key or header name"),
    _F("token", _M.WORD, "any key or header name"),
    _F("credential", _M.WORD, "any key or header name"),
    _F("api_key", _M.WORD, "any key or header name (apiKey, x-api-key, x-goog-api-key)"),
    _F("apikey", _M.WORD, "any key or header name"),
    _F("private_key", _M.WORD, "any key or header name"),
    _F(
        "key",
        _M.DATA_WORD,
        "an inline DataSource under signing_key, keys, ...: strings stay (HeaderValue.key)",
    ),
    # Patterns inside any string
    _F("bearer", _M.TEXT, "'Bearer <token>' anywhere: the token"),
    _F("jwt", _M.TEXT, "a JWT/JWS (eyJ... three or more base64url parts) anywhere"),
    _F("pem_private_key", _M.TEXT, "a PEM private key block anywhere (NACK messages quote them)"),
)
"""Everything that is masked; documentation and the UI's help read it, the Redactor is built from it."""

# A key word does not make a key secret when the key names or describes a secret rather than
# holding one: secret_name, token_uri, sds_secret_config, requested_token_type, csrf_token_expires_in.
REFERENCE_SUFFIXES = frozenset(
    "name names uri url path file filename dir directory type header cookie endpoint config configs"
    " provider profile format lifetime interval ttl in".split()
)
# Objects whose string fields are names of secrets (oauth2 CookieNames: bearer_token is a cookie name).
_NAME_HOLDERS = frozenset({"cookie_names"})
_TYPE_KEYS = frozenset({"@type", "type_url"})
_TYPED_STRUCTS = frozenset({"xds.type.v3.TypedStruct", "udpa.type.v1.TypedStruct"})
_INLINE_KEYS = frozenset({"inline_bytes", "inline_string", "inlineBytes", "inlineString"})
_BASE64_KEYS = frozenset({"inline_bytes", "inlineBytes", "raw_value", "rawValue", "base64"})
_DATASOURCE_KEYS = _INLINE_KEYS | set(
    "filename environment_variable watched_directory environmentVariable watchedDirectory".split()
)
_HEADER_VALUE_KEYS = frozenset(
    "value raw_value rawValue exact_match prefix_match suffix_match contains_match string_match"
    " safe_regex_match exactMatch prefixMatch suffixMatch containsMatch stringMatch safeRegexMatch".split()
)
_COOKIE_HEADERS = frozenset({"cookie", "set_cookie"})
_AUTH_HEADERS = frozenset({"authorization", "proxy_authorization"})

_MARKER = re.compile(r"\[redacted(?::[^\]\n]{1,40})?\]")
_REDACTED_B64 = base64.b64encode(REDACTED.encode()).decode()
_MARKER_B64_PREFIX = base64.b64encode(b"[redacted:")[:12].decode()
_PEM_B64_PREFIX = base64.b64encode(b"-----BEGIN")[:12].decode()
# Strings worth a second look: markers, their base64, and base64 PEM (of a private key, maybe).
_SPECIAL_PREFIXES = ("[redacted", _REDACTED_B64[:12], _PEM_B64_PREFIX)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)( +)(\S.*)", re.DOTALL)
_TEXT_PATTERNS: dict[str, re.Pattern[str]] = {
    "pem_private_key": re.compile(
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:(?!-----END)[A-Za-z0-9+/=\s:,.\\-])*+"
        r"(?:-----END [A-Z0-9 ]*PRIVATE KEY-----)?"
    ),
    "bearer": re.compile(r"(?i)(?<![A-Za-z0-9])(bearer\s+)([A-Za-z0-9._~+/=-]++)"),
    "jwt": re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}+(?:\.[A-Za-z0-9_-]*+){2,4}"),
}
_TEXT_HINTS_BYTES = (b"PRIVATE KEY", b"earer", b"EARER", b"eyJ")


def _words(name: str) -> tuple[str, ...]:
    if not (name.islower() and "-" not in name):
        name = _CAMEL.sub("_", name).lower()
    return tuple(w for w in _NON_WORD.split(name) if w)


_FIELD_RULES: dict[str, tuple[SecretField, ...]] = {}
for _entry in SECRET_FIELDS:
    if _entry.mask in (Mask.VALUE, Mask.MAP, Mask.SUBTREE, Mask.JWKS):
        _FIELD_RULES[_entry.name] = (*_FIELD_RULES.get(_entry.name, ()), _entry)
_CONTEXTS = frozenset(e.within for e in SECRET_FIELDS if e.within and "." not in e.within) | _NAME_HOLDERS
_HEADERS = frozenset("_".join(_words(e.name)) for e in SECRET_FIELDS if e.mask == Mask.HEADER)
_KEY_WORDS = tuple(_words(e.name) for e in SECRET_FIELDS if e.mask == Mask.WORD)
_DATA_WORDS = tuple(_words(e.name) for e in SECRET_FIELDS if e.mask == Mask.DATA_WORD)
assert {e.name for e in SECRET_FIELDS if e.mask == Mask.TEXT} == set(_TEXT_PATTERNS)


@dataclasses.dataclass(frozen=True, slots=True)
class _Key:
    """What the rules say about one JSON key (or header name)."""

    context: str  # the normalised key when it is a `within` context for its children, else ""
    fields: tuple[SecretField, ...]
    word: bool  # holds a key word and names no reference
    data_word: bool  # the same for a DATA_WORD: an inline DataSource under it is secret
    header: str  # the normalised header name when it names a secret header, else ""


_PLAIN = _Key("", (), False, False, "")
_KEY_CACHE: dict[str, _Key] = {}


def _has_word(words: tuple[str, ...], key_words: tuple[tuple[str, ...], ...]) -> bool:
    if not words or words[-1] in REFERENCE_SUFFIXES:
        return False
    for wanted in key_words:
        n = len(wanted)
        for i in range(len(words) - n + 1):
            if all(words[i + j] in (w, w + "s") for j, w in enumerate(wanted)):
                return True
    return False


def _key(raw: str) -> _Key:
    """The rules for one key, cached (free-form maps can hold many keys: the cache is bounded)."""
    found = _KEY_CACHE.get(raw)
    if found is not None:
        return found
    words = _words(raw)
    norm = "_".join(words)
    word = _has_word(words, _KEY_WORDS)
    header = norm if norm in _HEADERS or word else ""
    fields = _FIELD_RULES.get(norm, ())
    info = _Key(norm if norm in _CONTEXTS else "", fields, word, _has_word(words, _DATA_WORDS), header)
    if info == _PLAIN:
        info = _PLAIN
    if len(_KEY_CACHE) > 50_000:
        _KEY_CACHE.clear()
    _KEY_CACHE[raw] = info
    return info


def is_envoy_redacted(value: object) -> bool:
    """Whether a JSON value is Envoy's own `[redacted]` (or its base64, in a bytes field): the secret is
    unknown, so nothing can be said of whether it equals another."""
    return value in (REDACTED, _REDACTED_B64)


def _is_marker(text: str) -> bool:
    return _MARKER.fullmatch(text) is not None


def is_masked(value: object) -> bool:
    """Whether a JSON value is a secret already masked: by Envoy or by a Redactor."""
    return isinstance(value, (str, bytes)) and _is_masked(value)


def _is_masked(value: str | bytes) -> bool:
    """Already redacted: by Envoy ("[redacted]", or its base64) or by an earlier pass."""
    if isinstance(value, bytes):
        return value.startswith(b"[redacted") and _is_marker(value.decode("latin-1"))
    if value.startswith("[redacted"):
        return _is_marker(value)
    if value == _REDACTED_B64:
        return True
    if value.startswith(_MARKER_B64_PREFIX):
        raw = _unbase64(value)
        return raw is not None and _is_masked(raw)
    return False


def _unbase64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.encode("ascii"), validate=False)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


def _is_datasource(node: dict[Any, Any]) -> bool:
    return bool(node) and node.keys() <= _DATASOURCE_KEYS


def _inline_data(value: Any) -> bool:
    """A DataSource or a list of them, as a DATA_WORD key masks (its filename stays, as everywhere)."""
    items = value if isinstance(value, list) else [value]
    return bool(items) and all(isinstance(i, dict) and _is_datasource(i) for i in items)


def _datasource_text(node: Any) -> str | None:
    """The inline content of a DataSource (or a bare string), as text; None when there is none."""
    if isinstance(node, str):
        return node
    if not isinstance(node, dict):
        return None
    for key in ("inline_string", "inlineString"):
        if isinstance(node.get(key), str):
            return str(node[key])
    for key in ("inline_bytes", "inlineBytes"):
        if isinstance(node.get(key), str):
            raw = _unbase64(node[key])
            return None if raw is None else raw.decode("utf-8", "replace")
    return None


def _jwks_is_public(text: str) -> bool:
    """True when a JWKS (or PEM) holds only public keys: no symmetric "k", no private "d" and kin."""
    if "-----BEGIN" in text:
        return "PRIVATE" not in text
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return False
    keys = doc.get("keys") if isinstance(doc, dict) and "keys" in doc else [doc]
    private = {"k", "d", "p", "q", "dp", "dq", "qi", "oth"}
    return isinstance(keys, list) and all(isinstance(k, dict) and not private & k.keys() for k in keys)


def _plain_text(value: str) -> bool:
    """No rule can apply inside this string (the cheap test run on every string)."""
    return not (
        "eyJ" in value
        or "earer" in value
        or "EARER" in value
        or "PRIVATE KEY" in value
        or value.startswith(_SPECIAL_PREFIXES)
    )


def _cookie_name(header: str, value: str | bytes) -> bool:
    """A bare cookie name under a "cookie" key (HashPolicy, api_key_auth KeySource): it has no "="."""
    if header not in _COOKIE_HEADERS:
        return False
    return b"=" not in value if isinstance(value, bytes) else "=" not in value


@dataclasses.dataclass(frozen=True, slots=True)
class Redacted:
    """A redacted copy and where its masked values sit (`a.b[0].c`), for a "N secrets masked" notice.

    `paths` includes values that were already redacted (by Envoy or an earlier pass).
    """

    value: Any
    paths: tuple[str, ...]


class Redactor:
    """Masks secrets with markers keyed by one salt; share one Redactor between saves you compare."""

    def __init__(self, salt: bytes | None = None) -> None:
        salt = secrets.token_bytes(32) if salt is None else salt
        self._key = salt if len(salt) <= 64 else hashlib.blake2b(salt).digest()

    def marker(self, secret: str | bytes) -> str:
        """`[redacted:<8 hex>]` for this secret under this Redactor's salt."""
        data = secret.encode("utf-8", "surrogatepass") if isinstance(secret, str) else secret
        digest = hashlib.blake2b(data, digest_size=4, key=self._key, person=b"xdsspy.redact").hexdigest()
        return f"[redacted:{digest}]"

    def json(self, value: Any) -> Redacted:
        """A redacted deep copy of a JSON-like value (decoded resources, config dumps, Structs)."""
        walk = _Walk(self)
        try:
            out = walk.node(value, "", "", None, "", 0)
        except RecursionError:  # only when the caller's own stack is already nearly exhausted
            return Redacted(TOO_DEEP, ("",))
        return Redacted(out, tuple(walk.paths))

    def headers(self, pairs: Iterable[tuple[str, bytes]]) -> model.Metadata:
        """Header pairs with secret values masked; other values lose only tokens and keys inside them."""
        out: list[tuple[str, bytes]] = []
        for name, value in pairs:
            raw = bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else str(value).encode()
            header = _key(name).header if isinstance(name, str) else ""
            out.append((name, self._header_value(header, raw) if header else self._text_bytes(raw)))
        return tuple(out)

    def text(self, s: str) -> str:
        """One free-form string with private keys, bearer tokens and JWTs inside it masked."""
        if _plain_text(s):
            return s
        if "PRIVATE KEY" in s:
            s = _TEXT_PATTERNS["pem_private_key"].sub(lambda m: self.marker(m.group(0)), s)
        if "earer" in s or "EARER" in s:
            s = _TEXT_PATTERNS["bearer"].sub(lambda m: m.group(1) + self.marker(m.group(2)), s)
        if "eyJ" in s:
            s = _TEXT_PATTERNS["jwt"].sub(lambda m: self.marker(m.group(0)), s)
        return s

    @typing.overload
    def _header_value(self, header: str, value: str) -> str: ...
    @typing.overload
    def _header_value(self, header: str, value: bytes) -> bytes: ...
    def _header_value(self, header: str, value: str | bytes) -> str | bytes:
        """A secret header's value masked (`header` normalised); an auth scheme stays readable."""
        if not value or _is_masked(value):
            return value
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        match = _SCHEME.fullmatch(text) if header in _AUTH_HEADERS else None
        if match is None:
            masked = self.marker(value)
        elif _is_masked(match.group(3)):
            masked = text
        else:
            secret = match.group(3)
            hashed = self.marker(secret.encode("latin-1") if isinstance(value, bytes) else secret)
            masked = match.group(1) + match.group(2) + hashed
        return masked.encode("latin-1") if isinstance(value, bytes) else masked

    def _text_bytes(self, value: bytes) -> bytes:
        if not any(hint in value for hint in _TEXT_HINTS_BYTES):
            return value
        return self.text(value.decode("latin-1")).encode("latin-1")


# -- For prefilters: code that skips the JSON walk where no rule can apply (redact_wire) ----------

TEXT_HINTS: tuple[bytes, ...] = (*_TEXT_HINTS_BYTES, _PEM_B64_PREFIX.encode("ascii"))
"""Every string a text rule can change, or a base64 PEM key under a bytes key, holds one of these."""


def key_matters(name: str, type_name: str | None, structured: bool) -> bool:
    """Whether a rule could act on the value under JSON key `name`, or on what is under it.

    `type_name` is the "@type" of the object holding the key (None: any); `structured` says whether
    the value can be an object or a list of them. Valid outside `within` context keys (which matter
    themselves): False means the value is walked as under any other key.
    """
    info = _known_key(name)
    if info is _PLAIN:
        return False
    if info.word or info.header or info.context or (info.data_word and structured):
        return True
    return any(not f.within or type_name is None or f.within == type_name for f in info.fields)


def names_header(text: str) -> bool:
    """Whether `text` names a secret header, as a HeaderValue key, HeaderMatcher name or pair's first item."""
    return bool(_known_key(text).header)


# A key some rule looks at holds, lower-cased, every word of a rule's name, key word or context:
# each group is filed under its longest word, which one search looks for first.
_KEY_GROUPS: dict[str, list[tuple[str, ...]]] = {}
for _name in sorted({*_FIELD_RULES, *_CONTEXTS, *(e.name for e in SECRET_FIELDS if e.mask != Mask.TEXT)}):
    _group = _words(_name)
    _KEY_GROUPS.setdefault(max(_group, key=len), []).append(_group)
_KEY_HINT = re.compile("|".join(sorted(_KEY_GROUPS, key=len, reverse=True)))


def _known_key(name: str) -> _Key:
    """_key for names that are mostly new (resource names, header names): plain ones are not cached."""
    info = _KEY_CACHE.get(name)
    if info is not None:
        return info
    lowered = name.lower()
    if _KEY_HINT.search(lowered) is None:
        return _PLAIN
    for hint, groups in _KEY_GROUPS.items():
        if hint in lowered and any(all(word in lowered for word in group) for group in groups):
            return _key(name)
    return _PLAIN


_Path: typing.TypeAlias = "tuple[_Path, tree.Token] | None"
"""Where a value sits, as a linked list (parent, token): joined only for the values that get masked."""


class _Walk:
    """One redaction pass: copies a JSON-like value, masking as the rules say and noting where.

    `ctx` is the parent key when it is a `within` context, `type_name` the enclosing "@type" message
    (or the type a TypedStruct names for its "value"); `depth` bounds the recursion.
    """

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.paths: list[str] = []

    def record(self, parent: _Path, token: tree.Token) -> None:
        tokens: list[tree.Token] = [token]
        while parent is not None:
            parent, step = parent
            tokens.append(step)
        tokens.pop()  # the root's own token
        self.paths.append(tree.format_path(tokens[::-1]))

    def too_deep(self, parent: _Path, token: tree.Token) -> str:
        self.record(parent, token)
        return TOO_DEEP

    def node(self, value: Any, ctx: str, type_name: str, parent: _Path, token: tree.Token, depth: int) -> Any:
        """A copy of `value` (at `token` under `parent`) with every rule applied inside it."""
        if isinstance(value, str):
            return self.string(value, parent, token)
        if isinstance(value, dict):
            return self.mapping(value, ctx, type_name, parent, token, depth)
        if isinstance(value, (list, tuple)):
            return self.sequence(value, ctx, parent, token, depth)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self.blob(bytes(value), parent, token)
        return value

    def string(self, value: str, parent: _Path, token: tree.Token) -> str:
        """A string no rule names: kept, but for keys, bearer tokens and JWTs inside it."""
        if value.startswith(_SPECIAL_PREFIXES[:2]) and _is_masked(value):
            self.record(parent, token)
            return value
        if token in _BASE64_KEYS and value.startswith(_PEM_B64_PREFIX):
            raw = _unbase64(value)
            if raw is not None and b"PRIVATE KEY" in raw:
                return str(self.mask(value, parent, token))
        if _plain_text(value):
            return value
        masked = self.redactor.text(value)
        if masked != value:
            self.record(parent, token)
        return masked

    def blob(self, value: bytes, parent: _Path, token: tree.Token) -> bytes:
        masked = self.redactor._text_bytes(value)
        if masked != value or _is_masked(value):
            self.record(parent, token)
        return masked

    def mask(self, value: str | bytes, parent: _Path, token: tree.Token) -> str | bytes:
        """The marker for one secret scalar (base64 of it in bytes fields); kept if already masked."""
        if not value:
            return value
        self.record(parent, token)
        if _is_masked(value):
            return value
        if isinstance(value, bytes):
            return self.redactor.marker(value).encode("ascii")
        if token in _BASE64_KEYS:
            raw = _unbase64(value)
            marker = self.redactor.marker(value if raw is None else raw)
            return base64.b64encode(marker.encode("ascii")).decode("ascii")
        return self.redactor.marker(value)

    def mapping(
        self, node: dict[Any, Any], ctx: str, type_name: str, parent: _Path, token: tree.Token, depth: int
    ) -> Any:
        if depth >= MAX_DEPTH:
            return self.too_deep(parent, token)
        here: _Path = (parent, token)
        kind = node.get("@type")
        type_name = kind.rpartition("/")[2] if isinstance(kind, str) else type_name
        inner = node.get("type_url") if type_name in _TYPED_STRUCTS else None
        inner_type = inner.rpartition("/")[2] if isinstance(inner, str) else ""
        header = self.header_in(node)
        out: dict[Any, Any] = {}
        for key, value in node.items():
            info = _KEY_CACHE.get(key) if isinstance(key, str) else _PLAIN
            if info is None:
                info = _key(key)
            if info is _PLAIN and type(value) is str and not header and _plain_text(value):
                out[key] = value  # the common case, checked inline: most of a config is plain strings
            elif header and key in _HEADER_VALUE_KEYS:
                out[key] = self.header_entry_value(header, value, here, key, depth + 1)
            elif info is _PLAIN or ctx in _NAME_HOLDERS:
                child_type = inner_type if key == "value" else ""
                out[key] = self.node(value, info.context, child_type, here, key, depth + 1)
            else:
                out[key] = self.keyed(info, value, (ctx, type_name), here, key, depth + 1)
        return out

    def keyed(
        self, info: _Key, value: Any, where: tuple[str, str], parent: _Path, key: str, depth: int
    ) -> Any:
        """A value whose key a rule names: the first field rule that fits `where`, else word or header."""
        for rule in info.fields:
            if not rule.within or rule.within in where:
                return self.apply(rule.mask, value, info.context, parent, key, depth)
        if info.word or (info.data_word and _inline_data(value)):
            return self.secret(value, info.context, parent, key, depth)
        if info.header and isinstance(value, (str, bytes)) and not _cookie_name(info.header, value):
            return self.header_scalar(info.header, value, parent, key)
        return self.node(value, info.context, "", parent, key, depth)

    def apply(self, mask: Mask, value: Any, ctx: str, parent: _Path, key: tree.Token, depth: int) -> Any:
        if mask == Mask.SUBTREE:
            return self.subtree(value, parent, key, depth)
        if mask == Mask.MAP and isinstance(value, dict):
            here: _Path = (parent, key)
            return {k: self.secret(v, "", here, k, depth + 1) for k, v in value.items()}
        if mask == Mask.JWKS:
            text = _datasource_text(value)
            if text is not None and _jwks_is_public(text):
                return self.node(value, ctx, "", parent, key, depth)
        return self.secret(value, ctx, parent, key, depth)

    def secret(self, value: Any, ctx: str, parent: _Path, key: tree.Token, depth: int) -> Any:
        """A secret: a scalar is masked, a DataSource loses its inline data, a list item by item.

        Any other object (an SDS reference by name, a resource) is walked as usual.
        """
        if isinstance(value, (str, bytes)):
            return self.mask(value, parent, key)
        if depth >= MAX_DEPTH:
            return self.too_deep(parent, key)
        here: _Path = (parent, key)
        if isinstance(value, (list, tuple)):
            return [self.secret(item, ctx, here, i, depth + 1) for i, item in enumerate(value)]
        if isinstance(value, dict) and _is_datasource(value):
            return {
                k: self.mask(v, here, k)
                if k in _INLINE_KEYS and isinstance(v, str)
                # filename, environment_variable and watched_directory name where the secret is
                else self.node(v, "", "", here, k, depth + 1)
                for k, v in value.items()
            }
        return self.node(value, ctx, "", parent, key, depth)

    def subtree(self, value: Any, parent: _Path, key: tree.Token, depth: int) -> Any:
        """Every string and bytes value under a sensitive field; "@type" and map keys stay."""
        if isinstance(value, (str, bytes)):
            return self.mask(value, parent, key)
        if depth >= MAX_DEPTH:
            return self.too_deep(parent, key)
        here: _Path = (parent, key)
        if isinstance(value, dict):
            return {
                k: v if k in _TYPE_KEYS and isinstance(v, str) else self.subtree(v, here, k, depth + 1)
                for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [self.subtree(item, here, i, depth + 1) for i, item in enumerate(value)]
        return value

    def sequence(
        self, items: list[Any] | tuple[Any, ...], ctx: str, parent: _Path, token: tree.Token, depth: int
    ) -> Any:
        if depth >= MAX_DEPTH:
            return self.too_deep(parent, token)
        here: _Path = (parent, token)
        header = self.header_pair(items)
        if header:
            return [items[0], self.header_entry_value(header, items[1], here, 1, depth + 1)]
        out = [self.node(item, ctx, "", here, i, depth + 1) for i, item in enumerate(items)]
        return tuple(out) if isinstance(items, tuple) else out

    def header_pair(self, items: list[Any] | tuple[Any, ...]) -> str:
        """The secret header a [name, value] pair (as `xdsspy export` writes headers) carries, or ""."""
        if len(items) != 2 or not isinstance(items[0], str) or not isinstance(items[1], (str, bytes, dict)):
            return ""
        header = _key(items[0]).header
        if not header or (header not in _HEADERS and "-" not in items[0]):
            return ""  # a word alone ("token") is too common in lists of names to take as a header
        value = items[1]
        return "" if isinstance(value, (str, bytes)) and _cookie_name(header, value) else header

    def header_in(self, node: dict[Any, Any]) -> str:
        """The secret header a HeaderValue {key, value} or HeaderMatcher {name, ...} is about, or ""."""
        if _HEADER_VALUE_KEYS.isdisjoint(node):
            return ""
        name = node.get("key", node.get("name"))
        return _key(name).header if isinstance(name, str) else ""

    def header_entry_value(self, header: str, value: Any, parent: _Path, key: tree.Token, depth: int) -> Any:
        if isinstance(value, (str, bytes)):
            return self.header_scalar(header, value, parent, key)
        return self.subtree(value, parent, key, depth)

    def header_scalar(self, header: str, value: str | bytes, parent: _Path, key: tree.Token) -> str | bytes:
        if isinstance(value, str) and key in _BASE64_KEYS:
            return self.mask(value, parent, key)
        if value:
            self.record(parent, key)
        return self.redactor._header_value(header, value)
