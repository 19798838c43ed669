"""Export and import of every setting, key and token as one JSON file.

The export holds whole upstream keys and the admin token: treat it as a secret file. Tokens travel
as SHA-256 digests, so teams keep their secrets after an import.
"""

import orjson
from fastapi import APIRouter, HTTPException, Request
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


IMPORT_BODY = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}


@router.post(
    "/import",
    summary="Merge an export in: settings validated, keys and tokens added or updated",
    openapi_extra={"requestBody": IMPORT_BODY},
)
async def import_(request: Request, rt: Rt, admin: AdminUser) -> dict[str, int]:
    """All or nothing: a 422 names what is wrong and nothing is stored. An imported AUTH_TOKEN
    replaces the current one and ends every admin session. The body is read only once the caller
    is known to be the admin (a body parameter would be read and parsed before the check)."""
    try:
        document = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        raise HTTPException(422, "The body must be a JSON object: a file from GET /api/admin/export.")
    call = config_pb2.ImportDataRequest(document=orjson.dumps(document), actor=admin.actor)
    reply = await rpc(rt.config.ImportData(call, timeout=300))
    if reply.errors:
        raise field_errors(reply.errors)
    return {
        "settings_changed": reply.settings_changed,
        "keys_added": reply.keys_added,
        "keys_updated": reply.keys_updated,
        "tokens_added": reply.tokens_added,
        "tokens_updated": reply.tokens_updated,
    }
