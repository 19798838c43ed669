"""The admin JSON API under ``/api/admin`` (the panel's backend), behind the admin token AUTH_TOKEN.

A person logs in once (``POST /api/admin/login``) and gets a random session id in an HttpOnly,
SameSite=Strict cookie; the config service keeps its digest, so every gateway replica knows the
session. Scripts send ``Authorization: Bearer <AUTH_TOKEN>`` instead. Everything else answers 401.
"""
