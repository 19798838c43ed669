"""Team tokens: list, create (the secret is shown in that answer only), change, delete."""

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from gempool.api.config.v1 import config_pb2
from gempool.gateway.admin.deps import AdminUser, Rt, field_errors, rpc, unix_or_none

router = APIRouter(prefix="/tokens", tags=["admin: tokens"])


class TokenOut(BaseModel):
    id: int
    name: str
    enabled: bool
    allowed_models: list[str] = Field(description="Empty: every model. Shell patterns such as gemini-2.5-*.")
    rpm_limit: int = Field(description="Requests per minute across all gateways; 0: no limit.")
    key_tag: str = Field(
        "",
        description="Only keys carrying this tag serve the token (e.g. a team's own keys); empty: any key.",
    )
    hint: str = Field(description="The secret, masked.")
    created_at: float
    last_used_at: float | None


class Created(TokenOut):
    secret: str = Field(description="Shown this once; only its SHA-256 is stored.")


class NewToken(BaseModel):
    name: str = Field(description="The team; unique.", min_length=1, max_length=128)
    allowed_models: list[str] = Field(default_factory=list)
    rpm_limit: int = Field(0, ge=0)
    key_tag: str = Field(
        "",
        max_length=128,
        description="Only keys carrying this tag serve the token (e.g. a team's own keys); empty: any key.",
    )
    enabled: bool = True


class TokenPatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=128)
    enabled: bool | None = None
    allowed_models: list[str] | None = None
    rpm_limit: int | None = Field(None, ge=0)
    key_tag: str | None = Field(None, max_length=128)


def to_out(record: config_pb2.TokenRecord) -> TokenOut:
    token = record.token
    return TokenOut(
        id=token.id,
        name=token.name,
        enabled=token.enabled,
        allowed_models=list(token.allowed_models),
        rpm_limit=token.rpm_limit,
        key_tag=token.key_tag,
        hint=record.hint,
        created_at=record.created_at_unix,
        last_used_at=unix_or_none(record.last_used_at_unix),
    )


@router.get("", response_model=list[TokenOut], summary="Every team token")
async def list_tokens(rt: Rt) -> list[TokenOut]:
    reply = await rpc(rt.config.ListTokens(config_pb2.ListTokensRequest(), timeout=10))
    return [to_out(r) for r in reply.tokens]


@router.post(
    "", response_model=Created, status_code=201, summary="Create a token; its secret is in this answer only"
)
async def create(body: NewToken, rt: Rt, admin: AdminUser) -> Created:
    request = config_pb2.CreateTokenRequest(
        name=body.name,
        allowed_models=body.allowed_models,
        rpm_limit=body.rpm_limit,
        key_tag=body.key_tag,
        disabled=not body.enabled,
        actor=admin.actor,
    )
    reply = await rpc(rt.config.CreateToken(request, timeout=10))
    if reply.errors:
        raise field_errors(reply.errors)
    return Created(**to_out(reply.token).model_dump(), secret=reply.secret)


@router.patch("/{token_id}", response_model=TokenOut, summary="Change a token (fields not sent stay)")
async def change(token_id: int, body: TokenPatch, rt: Rt, admin: AdminUser) -> TokenOut:
    request = config_pb2.UpdateTokenRequest(id=token_id, actor=admin.actor)
    if body.name is not None:
        request.name = body.name
    if body.enabled is not None:
        request.enabled = body.enabled
    if body.rpm_limit is not None:
        request.rpm_limit = body.rpm_limit
    if body.key_tag is not None:
        request.key_tag = body.key_tag
    if body.allowed_models is not None:
        request.allowed_models.models.extend(body.allowed_models)
        request.allowed_models.SetInParent()
    reply = await rpc(rt.config.UpdateToken(request, timeout=10))
    if not reply.found:
        raise HTTPException(404, f"No token {token_id}.")
    if reply.errors:
        raise field_errors(reply.errors)
    return to_out(reply.token)


@router.delete("/{token_id}", status_code=204, summary="Delete a token (also from ALLOWED_TOKENS)")
async def delete(token_id: int, rt: Rt, admin: AdminUser) -> None:
    reply = await rpc(
        rt.config.DeleteToken(config_pb2.DeleteTokenRequest(id=token_id, actor=admin.actor), timeout=10)
    )
    if not reply.found:
        raise HTTPException(404, f"No token {token_id}.")
