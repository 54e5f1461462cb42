"""Every Sextant topic: its name, its key, its retention. DLQs are ``<name>.dlq``.

The key is always ``tenant_id/workspace_id/entity`` (workspace ``-`` when an event has
none), so per-entity order holds on a partition while tenants spread across partitions.
"""

from __future__ import annotations

from sextant.contracts.registry import Topic, register_topic

ENTITY_KEY = "tenant_id/workspace_id/entity"

ACTIVITY = register_topic(
    Topic(
        name="sextant.activity",
        key=ENTITY_KEY,
        description="Canonical, tool-neutral activity normalized by ingest from webhooks and backfills.",
        retention_days=30,
    )
)
ACTIVITY_ATTRIBUTED = register_topic(
    Topic(
        name="sextant.activity.attributed",
        key=ENTITY_KEY,
        description="Activity events with developer ids resolved by identity, in the same per-key order.",
        retention_days=30,
    )
)
IDENTITY = register_topic(
    Topic(
        name="sextant.identity",
        key="tenant_id/-/developer_id",
        description="Developers created, merged, split; aliases moved. Holders of per-developer history recompute on these.",
        retention_days=365,
    )
)
FORECAST = register_topic(
    Topic(
        name="sextant.forecast",
        key=ENTITY_KEY,
        description="Forecasts computed and work items flagged stale.",
        retention_days=30,
    )
)
INSIGHTS = register_topic(
    Topic(
        name="sextant.insights",
        key=ENTITY_KEY,
        description="Metrics snapshots and team-health suggestions with their feedback.",
        retention_days=30,
    )
)
LIFECYCLE = register_topic(
    Topic(
        name="sextant.lifecycle",
        key="tenant_id/workspace_id/-",
        description="Tenants and workspaces soft-deleted or restored; data archived, purged, restored; legal holds.",
        retention_days=365,
    )
)
REPORTS = register_topic(
    Topic(
        name="sextant.reports",
        key="tenant_id/-/report_id",
        description="Report jobs requested, rendered and failed.",
        retention_days=30,
    )
)
NOTIFICATIONS = register_topic(
    Topic(
        name="sextant.notifications",
        key="tenant_id/-/notification_id",
        description="In-app notifications for a tenant's users, by role.",
        retention_days=30,
    )
)
GATES = register_topic(
    Topic(
        name="sextant.gates",
        key="tenant_id/workspace_id/evaluation_id",
        description="Quality-gate evaluations of a SHA for an environment, and their break-glass overrides: the evidence partners keep.",
        retention_days=365,
    )
)
CONFIG = register_topic(
    Topic(
        name="sextant.config",
        key="tenant_id/-/target",
        description="Configuration changes and their audit records.",
        retention_days=365,
    )
)


def entity_key(tenant_id: object, workspace_id: object | None, entity: str) -> str:
    """The partition key of an event: ``tenant/workspace/entity``."""
    return f"{tenant_id}/{workspace_id if workspace_id is not None else '-'}/{entity}"
