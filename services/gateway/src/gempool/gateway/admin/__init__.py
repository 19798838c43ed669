"""The admin JSON API under ``/api/admin`` (the panel's backend), behind the admin token AUTH_TOKEN.

A person logs in once (``POST /api/admin/login``) and gets a random session id in an HttpOnly,
SameSite=Strict cookie; the config service keeps its digest, so every gateway replica knows the
session. Scripts send ``Authorization: Bearer <AUTH_TOKEN>`` instead. Everything else answers 401.
"""

from fastapi import APIRouter, Depends

from gempool.gateway.admin import keys, logs, session, settings, tokens, transfer
from gempool.gateway.admin.deps import no_store, require_admin

PREFIX = "/api/admin"


def router() -> APIRouter:
    root = APIRouter(prefix=PREFIX, dependencies=[Depends(no_store)])
    root.include_router(session.public)
    protected = APIRouter(dependencies=[Depends(require_admin)])
    for module in (session, settings, keys, tokens, logs, transfer):
        protected.include_router(module.router)
    root.include_router(protected)
    return root
