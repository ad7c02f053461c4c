"""Every table of the portal; importing this package registers them all on ``Base.metadata``."""

from webclient.portal.models.accounts import EmailCode, PasswordReset, User, UserRole
from webclient.portal.models.infra import AuthNonce, ThrottleEvent, WebSession
from webclient.portal.models.orgs import (
    AuditEvent,
    Membership,
    MembershipRole,
    MembershipStatus,
    Organisation,
    OrganisationTool,
    ToolAccess,
)
from webclient.portal.models.recognitions import RegisterEntry, RegisterImport, UserRecognition
from webclient.portal.models.support import SupportRequest
from webclient.portal.models.syndic import (
    AppointedBy,
    RequestKind,
    RequestStatus,
    SyndicEvent,
    SyndicKind,
    SyndicRequest,
)
from webclient.portal.models.wallet import (
    AccountKind,
    BankMovement,
    BankStatement,
    EntryKind,
    Invoice,
    InvoiceCounter,
    JournalEntry,
    LedgerAccount,
    Payment,
    PaymentStatus,
    Posting,
    SimulatedPayment,
)

__all__ = [
    "AccountKind",
    "AppointedBy",
    "AuditEvent",
    "AuthNonce",
    "BankMovement",
    "BankStatement",
    "EmailCode",
    "EntryKind",
    "Invoice",
    "InvoiceCounter",
    "JournalEntry",
    "LedgerAccount",
    "Membership",
    "MembershipRole",
    "MembershipStatus",
    "Organisation",
    "OrganisationTool",
    "PasswordReset",
    "Payment",
    "PaymentStatus",
    "Posting",
    "RegisterEntry",
    "RegisterImport",
    "RequestKind",
    "RequestStatus",
    "SimulatedPayment",
    "SupportRequest",
    "SyndicEvent",
    "SyndicKind",
    "SyndicRequest",
    "ThrottleEvent",
    "ToolAccess",
    "User",
    "UserRecognition",
    "UserRole",
    "WebSession",
]
