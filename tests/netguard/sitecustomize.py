"""Network guard of the ``python -m zcrm_notebook`` children of the hostile tests.

Imported at start-up (``PYTHONPATH`` set by ``hostile_server.child_env``): every name looked
up and every address connected to is appended to ``$ZCRM_TEST_NETLOG``; only loopback is
reachable; ``$ZCRM_TEST_ROUTES`` (JSON ``{host: port}``) routes Zoho names to the TLS fake and
``$ZCRM_TEST_CA`` is the CA that requests trusts.
"""

import json
import os

if os.environ.get("ZCRM_TEST_NETLOG"):
    from hostile_server import Network

    _fallback = os.environ.get("ZCRM_TEST_FALLBACK_PORT")
    Network(
        routes=json.loads(os.environ.get("ZCRM_TEST_ROUTES") or "{}"),
        fallback_port=int(_fallback) if _fallback else None,
        log_path=os.environ["ZCRM_TEST_NETLOG"],
    ).install()
    if os.environ.get("ZCRM_TEST_CA"):
        import requests.adapters

        requests.adapters.DEFAULT_CA_BUNDLE_PATH = os.environ["ZCRM_TEST_CA"]
