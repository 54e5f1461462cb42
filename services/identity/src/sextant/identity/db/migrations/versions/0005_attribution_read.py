"""Attribution's reads in one round trip: the known aliases, the key locks of the new
ones, then (after the locks, so what a waited-for transaction stored is seen) the holders
of their keys and, when there are any, the name population.

Revision ID: 0005
Revises: 0004
"""

from alembic import context, op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# A function, not one statement: a statement reads one snapshot, taken before it waits
# for a lock, so the holders must be read by a later statement. Each of a plpgsql
# function's statements takes a fresh snapshot. SECURITY INVOKER (the default): the
# tables' row-level security applies as in any other query of the app role. Generic plans:
# planning these small statements anew on every call cost more than running them.
FUNCTION = """
CREATE FUNCTION {schema}.attribution_read(
    p_tenant uuid,
    p_prints text[],        -- fingerprints of the aliases to look up
    p_key_prints text[],    -- per key of those aliases: its alias's fingerprint,
    p_keys text[],          --   the key,
    p_lock_ids text[],      --   the advisory lock's name
    p_tokens text[]         -- the name population tokens to count
) RETURNS TABLE (
    what text,              -- 'known', 'held' or 'count'
    fingerprint text,       -- 'held': of the holding alias
    developer_id uuid,
    merged_into uuid,
    locked boolean,
    key text,               -- 'held': the key; 'count': the token
    score float8,
    rule text,
    kind text,
    account_id text,
    login text,
    email text,
    display_name text,
    names bigint
) LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
    known text[];  -- the aliases found, their developers and where those merged
    known_developers uuid[];
    known_merged uuid[];
BEGIN
    SELECT coalesce(array_agg(a.fingerprint), '{{}}'), array_agg(a.developer_id),
           array_agg(d.merged_into)
    INTO known, known_developers, known_merged
    FROM {schema}.aliases a JOIN {schema}.developers d ON d.id = a.developer_id
    WHERE a.tenant_id = p_tenant AND a.fingerprint = ANY(p_prints);
    RETURN QUERY
        SELECT 'known', u.fingerprint, u.developer_id, u.merged_into, NULL::boolean,
               NULL, NULL::float8, NULL, NULL, NULL, NULL, NULL, NULL, NULL::bigint
        FROM unnest(known, known_developers, known_merged) AS u(fingerprint, developer_id, merged_into);
    IF cardinality(known) >= cardinality(p_prints) THEN
        RETURN;
    END IF;
    -- The new aliases' key locks, in one global order (see repository.attribution_read).
    PERFORM pg_advisory_xact_lock(h) FROM (
        SELECT DISTINCT hashtextextended(u.lock_id, 0) AS h
        FROM unnest(p_key_prints, p_lock_ids) AS u(print, lock_id)
        WHERE u.print <> ALL(known)
        ORDER BY h) AS s;
    -- Read after the locks: an alias stored by a transaction they waited for holds its
    -- keys now (and is known, when it is one of these).
    RETURN QUERY
        SELECT 'held', a.fingerprint, d.id, NULL::uuid, d.locked, k.key, k.score, k.rule,
               a.kind, a.account_id, a.login, a.email, a.display_name, NULL::bigint
        FROM {schema}.alias_keys k
        JOIN {schema}.aliases a ON a.id = k.alias_id
        JOIN {schema}.developers d ON d.id = a.developer_id
        WHERE k.tenant_id = p_tenant AND k.key = ANY(p_keys) AND d.merged_into IS NULL
        ORDER BY d.created_at, d.id;
    IF FOUND THEN
        RETURN QUERY
            SELECT 'count', NULL, NULL::uuid, NULL::uuid, NULL::boolean, t.token,
                   NULL::float8, NULL, NULL, NULL, NULL, NULL, NULL, t.names
            FROM {schema}.name_tokens t
            WHERE t.tenant_id = p_tenant AND t.token = ANY(p_tokens);
    END IF;
END
$fn$
"""


def upgrade() -> None:
    op.execute(FUNCTION.format(schema=context.config.attributes["schema"]))


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.execute(
        f"DROP FUNCTION {schema}.attribution_read(uuid, text[], text[], text[], text[], text[])"
    )
