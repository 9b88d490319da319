"""The rater's contact for the callback (回访): read in clear only by those in the item's scope, and every read is
on the item's record."""
from dataclasses import dataclass

from models import Rating, db

from .auth import Principal
from .database import writes
from .errors import NotFound
from .rectification import record_event, scoped_item
from .security import decrypt
from .timeutil import now

NO_CONTACT = "评价人未留联系方式（匿名评价或走流程发现的问题），无法回访"


@dataclass(frozen=True)
class Contact:
    name: str | None
    phone: str


@writes
def contact(principal: Principal, item_id: int) -> Contact:
    """The name and phone a non-anonymous rater left; the read is recorded as a `contact_viewed` event (who, when),
    which changes neither the status nor the version, so a handler's If-Match stays valid."""
    item, _ = scoped_item(principal, item_id)
    rating = db.session.get(Rating, int(item.source_id)) if item.source == "rating" else None
    # An anonymous rater chose not to be called, even if the phone was stored (encrypted) with the rating.
    if rating is None or rating.anonymous or not rating.phone_enc:
        raise NotFound(NO_CONTACT, code="no_contact")
    found = Contact(decrypt(rating.name_enc), decrypt(rating.phone_enc))
    record_event(item, now(), principal.name, "contact_viewed", item.status, "查看评价人联系方式（用于回访）")
    db.session.commit()
    return found
