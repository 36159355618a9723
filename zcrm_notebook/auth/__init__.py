"""OAuth 2.0 with Zoho Accounts on requests-oauthlib: credentials, tokens, grants, store.

Org credentials and their endpoint rules, Zoho's token-answer quirks as compliance
hooks, the shared access-token cache, the token store file, the grant-token exchange,
the web flow and revoke. It may import :mod:`zcrm_notebook.api`, ``errors`` and
``redact``; nothing above it (inputs, poll, cli ...) is imported here.
"""

from .credentials import AccessToken, OrgCredentials
from .tokens import (
    MASS_CONVERT_READ_SCOPE,
    TokenCache,
    forget_token_cache,
    get_token_cache,
    refresh_access_token,
    token_lifetime_s,
)

__all__ = [
    "OrgCredentials",
    "AccessToken",
    "TokenCache",
    "get_token_cache",
    "forget_token_cache",
    "refresh_access_token",
    "token_lifetime_s",
    "MASS_CONVERT_READ_SCOPE",
]
