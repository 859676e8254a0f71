"""Demo data of the embedded mode, loaded on the first start (grows with the services)."""

from __future__ import annotations

from typing import TextIO

from portico.runtime import Embedded


def load_once(embedded: Embedded, print_to: TextIO) -> None:
    marker = embedded.data_dir / ".demo-loaded"
    if marker.exists():
        return
    client = embedded.gateway.test_client()
    token = embedded.parts["gateway"].settings.operator_token
    headers = {"Authorization": f"Bearer {token}"}
    client.post(
        "/api/v1/operator/accounts",
        json={"number": "90293531", "name": "Retail IT Limited"},
        headers=headers,
    )
    client.post(
        "/api/v1/operator/accounts",
        json={
            "number": "90293532",
            "name": "Retail IT Shop London",
            "parent_number": "90293531",
            "relation": "shop",
        },
        headers=headers,
    )
    marker.write_text("loaded\n")
    print("Demo accounts 90293531 and its shop 90293532 are loaded.", file=print_to)
