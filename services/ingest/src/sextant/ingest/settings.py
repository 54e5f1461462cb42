"""Ingest's own settings (prefix ``SEXTANT_INGEST_``); shared ones live in RuntimeSettings."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from sextant.runtime.settings import ServiceSettings

MIB = 1024 * 1024


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEXTANT_INGEST_", extra="ignore")

    secret_keys: SecretStr | None = Field(
        default=None,
        description="keys that seal source secrets and API credentials at rest, as "
        "`id:base64key,...` (each key 32 random bytes): the first seals, every one opens "
        "what it sealed; rotate by putting a new key first, running `sextant ingest "
        "reseal`, then removing the old one",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="the single key of before key ids (base64 of 32 random bytes), key id "
        "`k0`: current when SEXTANT_INGEST_SECRET_KEYS is unset, else kept to open what it "
        "sealed; when neither is set, a key file under the data dir is made on first use "
        "(embedded)",
    )
    max_body_bytes: int = Field(default=25 * MIB, gt=0, description="larger deliveries get 413")
    max_in_flight: int = Field(
        default=256, gt=0, description="deliveries being accepted at once; beyond it, 429"
    )
    replay_window_seconds: int = Field(
        default=300, gt=0, description="generic (Standard Webhooks) timestamp tolerance"
    )
    source_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="how long a replica keeps a source for the webhook path; a change to "
        "its state (disabled, deleted, suspended) does not wait for it: every replica drops "
        "the source as the change commits",
    )
    source_change_wait_seconds: float = Field(
        default=2.0,
        gt=0,
        le=10,
        description="how long a suspension waits for every ingest replica to acknowledge "
        "it before answering (one that does not is logged)",
    )
    public_base_url: str = Field(
        default="", description="prefix of the webhook URL handed out, e.g. https://sextant.example"
    )
    jira_oauth_client_id: str = Field(
        default="",
        description="the Atlassian OAuth 2.0 (3LO) app's client id (developer.atlassian.com); "
        "unset, connecting Jira with OAuth answers 409 and a pasted token still works",
    )
    jira_oauth_client_secret: SecretStr | None = Field(
        default=None,
        description="the OAuth app's client secret, from the environment or a secret store "
        "(never stored in the database)",
    )
    jira_oauth_redirect_uri: str = Field(
        default="",
        description="the callback registered with the app; empty: the gateway's "
        "`<public_base_url>/v1/oauth/jira/callback`",
    )
    jira_oauth_scopes: str = Field(
        default="read:jira-work read:jira-user read:board-scope:jira-software "
        "read:sprint:jira-software offline_access",
        description="scopes asked at consent, space-separated; offline_access is what "
        "brings a refresh token",
    )
    jira_oauth_authorize_url: str = Field(
        default="https://auth.atlassian.com/authorize",
        description="Atlassian's consent page, where an admin's browser is sent",
    )
    jira_oauth_token_url: str = Field(
        default="https://auth.atlassian.com/oauth/token",
        description="Atlassian's token endpoint: codes and refresh tokens are exchanged here",
    )
    jira_oauth_resources_url: str = Field(
        default="https://api.atlassian.com/oauth/token/accessible-resources",
        description="lists the Jira sites (cloud ids) a grant reaches",
    )
    jira_oauth_api_url: str = Field(
        default="https://api.atlassian.com",
        description="base of the REST API an OAuth grant calls: "
        "`<this>/ex/jira/<cloud id>/rest/...`",
    )
    jira_oauth_state_seconds: int = Field(
        default=600,
        gt=0,
        le=3600,
        description="how long a consent may take, from start to callback; an older state is "
        "refused",
    )
    jira_oauth_refresh_before_seconds: int = Field(
        default=900,
        gt=0,
        description="an access token is refreshed this long before it expires (Atlassian's "
        "last an hour), less a random part of a minute so replicas and grants spread out",
    )
    jira_oauth_refresh_interval_seconds: float = Field(
        default=60.0,
        gt=0,
        description="how often the refresher looks for grants due (with ±20 % jitter)",
    )

    # Gate results posted back as GitHub check runs / GitLab commit statuses (checks.py).
    check_run_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="how long posting one check run may take"
    )
    check_run_max_attempts: int = Field(
        default=6, ge=1, le=20, description="tries of one check run before it is marked failed"
    )
    check_run_backoff_seconds: float = Field(
        default=5.0,
        gt=0,
        description="the first retry of a check run waits up to this (full jitter), each next twice",
    )
    check_run_backoff_cap_seconds: float = Field(
        default=600.0, gt=0, description="no check-run retry waits longer than this"
    )
    check_run_poll_seconds: float = Field(
        default=30.0,
        gt=0,
        description="the longest an idle poster waits before it looks for due check runs "
        "(a queued one wakes it at once, a retry at its time)",
    )

    # The commit lists of merges that webhooks brought, read through the tools' APIs
    # (commits.py).
    commit_list_poll_seconds: float = Field(
        default=30.0,
        gt=0,
        description="the longest an idle lister waits before it looks for due commit lists "
        "(a queued one wakes it at once, a retry at its time)",
    )
    commit_list_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        le=120,
        description="how long one request for a page of commits may take",
    )
    commit_list_max_wait_seconds: float = Field(
        default=900.0,
        ge=0,
        description="the longest one page waits out the tool's rate limit (Retry-After, "
        "x-ratelimit-reset) before the list is put back for later",
    )
    commit_list_max_attempts: int = Field(
        default=8,
        ge=1,
        le=30,
        description="tries of one commit list before it is marked failed (the merge keeps "
        "its head SHA, said head_only)",
    )
    commit_list_backoff_seconds: float = Field(
        default=30.0,
        gt=0,
        description="the first retry of a commit list waits up to this (full jitter), each "
        "next twice",
    )
    commit_list_backoff_cap_seconds: float = Field(
        default=3600.0, gt=0, description="no commit-list retry waits longer than this"
    )
