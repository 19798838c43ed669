"""Mounting the admin JSON API: the public sign-in routes and everything else behind the guard."""

from fastapi import APIRouter, Depends

from gempool.gateway.admin import keys, keyverify, logs, overview, session, settings, tokens, transfer
from gempool.gateway.admin.deps import no_store, require_admin

PREFIX = "/api/admin"


def router() -> APIRouter:
    root = APIRouter(prefix=PREFIX, dependencies=[Depends(no_store)])
    root.include_router(session.public)
    protected = APIRouter(dependencies=[Depends(require_admin)])
    for module in (session, overview, settings, keys, keyverify, tokens, logs, transfer):
        protected.include_router(module.router)
    root.include_router(protected)
    return root
