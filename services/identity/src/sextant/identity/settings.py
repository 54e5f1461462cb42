"""Identity's own settings (prefix ``SEXTANT_IDENTITY_``); shared ones live in RuntimeSettings."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from sextant.runtime.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEXTANT_IDENTITY_", extra="ignore")

    revisit_check_seconds: float = Field(
        default=600.0,
        gt=0,
        description="how often the background loop looks for tenants whose name population "
        "has grown enough since their last revisit, and revisits them (suggestions only)",
    )
    revisit_growth_factor: float = Field(
        default=2.0,
        ge=1.0,
        description="a tenant is revisited once its distinct names reach this many times "
        "those of its last revisit (2: doubled, so a tenant's revisits cost at most about "
        "twice its last one over its whole life)",
    )
    revisit_min_new_names: int = Field(
        default=100,
        ge=1,
        description="and once at least this many names were added since: below about 100 "
        "names the evidence's background of 100 names outweighs the tenant's own, so "
        "nothing an early revisit weighs has moved much",
    )
