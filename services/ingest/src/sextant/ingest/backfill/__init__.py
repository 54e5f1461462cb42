"""History through the tools' REST APIs, converging with the webhooks.

Each tool module turns API pages into webhook-shaped payloads, so the same normalizers
(and the same fact ids) serve both paths: an entity seen by a webhook and by a backfill
becomes one set of events. :mod:`.api` speaks HTTP (pagination, rate limits, retries);
:mod:`.runner` keeps the job's checkpoint and progress, one transaction per page.
"""
