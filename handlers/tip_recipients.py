"""Who receives a tip, and who may act on it: no tip reaches nobody.

A tip goes to the coordinators (and admins) of its hamlet's chain: the hamlet, its commune,
the province. Without a hamlet it goes to those of the commune the resident came from or
chose. A tip with no unit at all, or whose chain nobody holds, goes to the coordinators of
the tree's roots and to every admin (by role, or named in BINHYEN_ADMINS). If even that is
nobody, the resident is told before confirming, and the tip cannot be sent yet.
"""

from __future__ import annotations

from handlers.common import Who, scope
from handlers.services import Services
from storage.models import Role, Unit
from storage.tips import Tip

STAFF = (Role.COORDINATOR, Role.ADMIN)


async def recipients(svc: Services, unit_id: int | None) -> list[int]:
    """User ids of everyone a tip of ``unit_id`` reaches (sorted; active users only)."""
    tree = await svc.units.tree()
    ids: set[int] = set()
    if unit_id is not None and unit_id in tree.by_id:
        chain = [u.id for u in tree.ancestors(unit_id)]
        ids = {user_id for user_id, _, _ in await svc.users.holders(chain, STAFF)}
    if not ids:
        roots = [u.id for u in tree.children.get(None, [])]
        ids = {user_id for user_id, _, _ in await svc.users.holders(roots, STAFF)}
        ids |= {user_id for user_id, _, _ in await svc.users.holders(None, (Role.ADMIN,))}
        for tg_id in sorted(svc.admins):  # the settings' admins see what nobody else would
            user = await svc.users.get(tg_id)
            if user is not None and user.active:
                ids.add(user.id)
    return sorted(ids)


async def in_charge(svc: Services, unit_id: int | None) -> set[int]:
    """Who may still be sent a tip's (or an event's) card, edits and answers: those it
    reaches now, and the settings' admins. Someone whose role ended since they got a card
    gets nothing more of it."""
    ids = set(await recipients(svc, unit_id))
    for tg_id in svc.admins:
        user = await svc.users.get(tg_id)
        if user is not None and user.active:
            ids.add(user.id)
    return ids


async def allowed(svc: Services, me: Who, tip: Tip) -> bool:
    """Whether this coordinator may see and act on the tip (see :func:`allowed_in`)."""
    return await allowed_in(svc, me, tip.unit_id)


async def allowed_in(svc: Services, me: Who, unit_id: int | None) -> bool:
    """Whether this coordinator may see and act on a tip or an event of ``unit_id``: it is
    in their scope, or it was theirs to receive."""
    if not me.staff:
        return False
    tree = await svc.units.tree()
    if unit_id is not None and unit_id in tree.by_id \
            and any(tree.contains(root.id, unit_id) for root in await scope(svc, me)):
        return True
    return me.user.id in await recipients(svc, unit_id)


async def uncovered(svc: Services) -> list[Unit]:
    """Hamlets (units with nothing under them) whose chain no coordinator or admin holds:
    their tips would only reach the roots' coordinators and the admins."""
    tree = await svc.units.tree()
    held = {unit_id for _, unit_id, _ in await svc.users.holders(None, STAFF)}
    return [unit for unit in tree.leaves([u.id for u in tree.children.get(None, [])])
            if not any(a.id in held for a in tree.ancestors(unit.id))]
