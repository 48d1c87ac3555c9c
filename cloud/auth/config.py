"""Staff log-in settings (`MADOGUCHI_CLOUD_AUTH__*`): the second factor, session expiry and
the optional OIDC identity provider."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field, SecretStr, model_validator

from cloud.auth.models import Role

# Development only: production refuses to start with it (CloudSettings._production_is_safe).
DEVELOPMENT_SECRET_KEY = "madoguchi-development-only-secret-key"  # noqa: S105
MUST_ENROL = frozenset({Role.ADMIN, Role.TECH})  # in production, at least these


# RFC 8176 authentication method references that include a second factor (or are one).
MFA_AMR = ("mfa", "otp", "hwk", "swk", "sms", "fpt", "face")


class OidcSettings(BaseModel):
    """Log-in through the city's identity provider (authorization code flow with PKCE).
    Off by default. For the roles that need a second factor (auth.totp_required_roles) the
    ID token must prove one (`amr` or `acr` below); if it does not, an account with its own
    TOTP is asked for the code, any other is refused."""

    enabled: bool = False
    issuer: str = Field("", description="e.g. https://login.city.example.jp/realms/staff")
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    scopes: str = "openid profile email"
    username_claim: str = Field("preferred_username", description="The staff user name")
    role_claim: str = Field("groups", description="A string or a list of strings")
    role_map: dict[str, Role] = Field(
        default_factory=dict,
        description="Claim value → role, e.g. {'madoguchi-admins': 'admin'}, in priority "
        "order: a user with several mapped values gets the first entry's role; a user with "
        "none is refused",
    )
    redirect_url: str | None = Field(
        None, description="The callback as the provider sees it; default: this request's URL"
    )
    timeout_s: float = Field(10.0, gt=0)
    mfa_amr: tuple[str, ...] = Field(
        MFA_AMR,
        description="`amr` values (RFC 8176) that prove a second factor: any one is enough",
    )
    mfa_acr: tuple[str, ...] = Field(
        (),
        description="`acr` values that prove a second factor (the provider's own names, "
        "e.g. a Keycloak level-of-assurance or 'http://schemas.openid.net/pape/policies/"
        "2007/06/multi-factor')",
    )

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> OidcSettings:
        if self.enabled and not (self.issuer and self.client_id and self.role_map):
            raise ValueError("OIDC needs issuer, client_id and role_map when enabled")
        return self


class AuthSettings(BaseModel):
    secret_key: SecretStr = Field(
        SecretStr(DEVELOPMENT_SECRET_KEY),
        description="Encrypts TOTP secrets at rest and the OIDC state cookie (32+ characters)",
        min_length=32,
    )
    totp_required_roles: frozenset[Role] | None = Field(
        None,
        description="Roles that must enrol a TOTP second factor before their session reaches "
        "anything else. Unset: admin and tech in production, nobody in development",
    )
    totp_issuer: str = Field("madoguchi", min_length=1, max_length=64)
    idle_timeout: timedelta = Field(
        timedelta(minutes=30), description="A session unused this long ends"
    )
    oidc: OidcSettings = OidcSettings()

    def totp_roles(self, *, production: bool) -> frozenset[Role]:
        if self.totp_required_roles is not None:
            return self.totp_required_roles
        return MUST_ENROL if production else frozenset()

    def production_problems(self) -> list[str]:
        problems = []
        if self.secret_key.get_secret_value() == DEVELOPMENT_SECRET_KEY:
            problems.append("auth.secret_key must be set (not the development key)")
        if not self.totp_roles(production=True) >= MUST_ENROL:
            problems.append("auth.totp_required_roles must include admin and tech")
        return problems
