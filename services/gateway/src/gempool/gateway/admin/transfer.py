"""Export and import of every setting, key and token as one JSON file.

The export holds whole upstream keys and the admin token: treat it as a secret file. Tokens travel
as SHA-256 digests, so teams keep their secrets after an import.
"""

from typing import Any

import orjson
from fastapi import APIRouter, Body
from fastapi.responses import Response

from gempool.api.config.v1 import config_pb2
from gempool.gateway.admin.deps import AdminUser, Rt, field_errors, rpc

router = APIRouter(tags=["admin: export and import"])


@router.get("/export", summary="Download settings, keys and tokens (a secret file: whole keys)")
async def export(rt: Rt) -> Response:
    reply = await rpc(rt.config.ExportData(config_pb2.ExportDataRequest(), timeout=120))
    headers = {
        "content-disposition": 'attachment; filename="gempool-export.json"',
        "cache-control": "no-store",
    }
    return Response(reply.document, media_type="application/json", headers=headers)


@router.post("/import", summary="Merge an export in: settings validated, keys and tokens added or updated")
async def import_(rt: Rt, admin: AdminUser, document: dict[str, Any] = Body(...)) -> dict[str, int]:  # noqa: B008
    """All or nothing: a 422 names what is wrong and nothing is stored. An imported AUTH_TOKEN
    replaces the current one and ends every admin session."""
    request = config_pb2.ImportDataRequest(document=orjson.dumps(document), actor=admin.actor)
    reply = await rpc(rt.config.ImportData(request, timeout=300))
    if reply.errors:
        raise field_errors(reply.errors)
    return {
        "settings_changed": reply.settings_changed,
        "keys_added": reply.keys_added,
        "keys_updated": reply.keys_updated,
        "tokens_added": reply.tokens_added,
        "tokens_updated": reply.tokens_updated,
    }
