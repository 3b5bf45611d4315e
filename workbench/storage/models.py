"""Every ORM module, imported once so Alembic and ``create_all`` see the whole schema."""

from __future__ import annotations

from workbench import audit as _audit
from workbench import mail as _mail
from workbench.accounts import models as _accounts
from workbench.consent import models as _consent
from workbench.governance import models as _governance
from workbench.instruments import store as _instruments
from workbench.participants import drafts as _drafts
from workbench.participants import models as _participants
from workbench.participants import rights as _rights
from workbench.portal import account_models as _portal_accounts
from workbench.portal import campaigns as _campaigns
from workbench.portal import models as _portal
from workbench.qualitative import models as _qualitative
from workbench.randomisation import store as _randomisation
from workbench.storage.base import Base
from workbench.studies import models as _studies

__all__ = ["metadata"]

_MODULES = (_audit, _accounts, _mail, _studies, _participants, _consent, _governance, _rights, _qualitative,
            _portal, _randomisation, _instruments, _drafts, _campaigns,
            _portal_accounts)
metadata = Base.metadata
