"""The admin HTTP API as a script calls it: POST /api/admin/provision-number with a bearer token."""

import json


def api_post(client, token, data, content_type="application/json"):
    body = data if isinstance(data, (bytes, str)) else json.dumps(data)
    return client.post("/api/admin/provision-number", body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {token}")
