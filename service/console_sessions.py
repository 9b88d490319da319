"""Console sign-in: an account token is exchanged once for a browser session; the session is checked against the
account on every request, so deactivating the account (or signing out) ends it at once."""
from datetime import timedelta

from sqlalchemy import select, update

from models import Account, ConsoleSession, db

from .auth import Principal, authenticate, scope_of
from .database import writes
from .security import derive, hash_token, new_token, same
from .timeutil import now

SESSION_HOURS = 12  # one working day and a bit: a console left open overnight asks for the token again
CONSOLE_ROLES = ("staff", "supervisor", "admin")


@writes
def sign_in(account_token: str | None) -> tuple[str, Principal]:
    """(session token for the cookie, principal). A wrong or deactivated token is refused as the API refuses it."""
    principal = authenticate((account_token or "").strip() or None)
    token = new_token()
    stamp = now()
    db.session.add(ConsoleSession(token_hash=hash_token(token), account_id=principal.account_id, created_at=stamp,
                                  expires_at=stamp + timedelta(hours=SESSION_HOURS)))
    db.session.commit()
    return token, principal


def principal_for(session_token: str | None) -> Principal | None:
    """The signed-in account, or None: unknown, signed out, expired, or the account deactivated since."""
    if not session_token:
        return None
    digest = hash_token(session_token)
    row = db.session.execute(
        select(ConsoleSession.token_hash, Account.id, Account.name, Account.role, Account.hall_code)
        .join(Account, Account.id == ConsoleSession.account_id)
        .where(ConsoleSession.token_hash == digest, ConsoleSession.ended_at.is_(None),
               ConsoleSession.expires_at > now(), Account.active.is_(True))).first()
    if row is None or not same(row[0], digest) or row.role not in CONSOLE_ROLES:
        return None
    return Principal(row.id, row.name, row.role, row.hall_code, scope_of(row.role, row.hall_code))


@writes
def sign_out(session_token: str | None) -> None:
    if session_token:
        db.session.execute(update(ConsoleSession).where(ConsoleSession.token_hash == hash_token(session_token),
                                                        ConsoleSession.ended_at.is_(None)).values(ended_at=now()))
    db.session.commit()


def csrf_token(session_token: str) -> str:
    """Bound to the session (derived with the server key), so it needs no storage and dies with the session."""
    return derive("console-csrf", session_token)


def csrf_ok(session_token: str, sent: str | None) -> bool:
    return bool(sent) and same(csrf_token(session_token), sent)
