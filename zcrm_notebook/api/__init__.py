"""Zoho's wire: data centers, endpoint descriptors, the one HTTP sender, answer parsing.

Everything here is about what Zoho's servers accept and answer, with no OAuth state:
which hosts belong to which data center and may receive a token, what each endpoint is
(path, method, scopes), the ``requests`` session every call goes through, and pure
functions turning an HTTP answer into a value or an exception. It may import only
:mod:`zcrm_notebook.errors`, :mod:`zcrm_notebook.redact`, the standard library and
``requests``. The Zoho facts it relies on are in ``docs/zoho-api.md``.
"""
