"""Secrets and personal data: token hashing, derived tokens, encryption at rest and masking."""
import hashlib
import hmac
import re
import secrets
from base64 import urlsafe_b64encode
from functools import lru_cache

from cryptography.fernet import Fernet
from flask import current_app


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_token() -> str:
    return secrets.token_urlsafe(32)


def derive(purpose: str, value: str) -> str:
    """A secret that can be computed again from the server key, so it never needs to be stored."""
    key = current_app.config["SECRET_KEY"].encode()
    mac = hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return urlsafe_b64encode(mac).decode().rstrip("=")[:32]


@lru_cache(maxsize=4)
def _fernet(key: str) -> Fernet:
    return Fernet(key.encode())


def encrypt(text: str | None) -> bytes | None:
    if not text:
        return None
    return _fernet(current_app.config["PII_KEY"]).encrypt(text.encode())


def decrypt(blob: bytes | None) -> str | None:
    if not blob:
        return None
    return _fernet(current_app.config["PII_KEY"]).decrypt(bytes(blob)).decode()


# A mainland mobile number: 11 ASCII digits, 1 then 3-9. Matched in full (fullmatch: `$` would accept a trailing
# newline) and over ASCII only (`\d` also takes full-width and other Unicode digits).
MOBILE = re.compile(r"1[3-9][0-9]{9}", re.ASCII)


def is_mobile(phone: str) -> bool:
    return MOBILE.fullmatch(phone) is not None


def mask_phone(phone: str | None) -> str | None:
    """`13812345678` → `138****5678`: the network prefix and the last four digits, as a callback would read them."""
    if not phone:
        return None
    return phone[:3] + "****" + phone[-4:]


# A mainland mobile number or an 18-character 居民身份证号 typed into free text (a comment, a note, a finding), as
# whole tokens: not a run of digits inside a longer number.
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9])(1[3-9][0-9])[0-9]{4}([0-9]{4})(?![0-9])")
_ID_IN_TEXT = re.compile(r"(?<![0-9])([1-9][0-9]{5})[0-9]{8}([0-9]{3}[0-9Xx])(?![0-9A-Za-z])")


def mask_free_text(text: str | None) -> str | None:
    """Free text as it may be shown: a mobile number reads `138****5678`, an ID number `110101********123X`. The
    stored text keeps the original (the callback contact is the only place a phone is kept for use)."""
    if not text:
        return text
    text = _ID_IN_TEXT.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
    return _MOBILE_IN_TEXT.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)


def mask_name(name: str | None) -> str | None:
    """The first character stays and each other one becomes `*` (`张三丰` → `张**`, `张三` → `张*`); a one-character
    name shows nothing of itself (`张` → `*`), since its first character is the whole name."""
    if not name:
        return None
    if len(name) == 1:
        return "*"
    return name[0] + "*" * (len(name) - 1)
