-- Fills a tapshare PostgreSQL store (schema >= 10) with :n synthetic FINISHED
-- shares and what a finished share leaves behind: 5 events, 2 settled
-- companion commands, 2 done outbox rows, 1 download session, 1 idempotency
-- record each (one in ten a confirmation code); plus n/5 (at least 1000)
-- users, devices, tokens, apps, companions, owners, enrolment codes,
-- throttle windows, offer nonces and pending SM-DS events. Used by
-- tests/integration/test_pg_plans.sh (query plans on a filled store) and
-- bench/growth.sh (throughput as the store grows). Run with
--   psql -v n=100000 -v updated=<unix time> -f bench/fill_pg.sql
-- `updated` is the shares' last change (keep it inside the retention period
-- unless pruning is what you measure).
--
-- Fast (the twin of fill_sqlite.sql): set-based INSERT ... SELECT
-- generate_series; the explicit indexes (not those of a PRIMARY KEY or UNIQUE
-- constraint) dropped first and built once at the end (a sort each, with
-- 512 MB of maintenance memory) instead of row by row; every key
-- zero-padded and generated in order (fill-0000000001 ...), so that the
-- remaining B-trees are appended to, not split all over; no commit waits
-- for its WAL flush (synchronous_commit off; the CHECKPOINT growth.sh runs
-- after the fill makes it durable). Event and command ids are negative:
-- history that no stream reads, below every order key the nodes give new
-- rows (src/node/pg_notify.h; store_pg_open refuses ids above them).
\set ON_ERROR_STOP on
-- progress in the log (growth.sh keeps it as fill.log): each statement and its time
\set ECHO queries
\timing on
SET synchronous_commit = off;
SET maintenance_work_mem = '512MB';
SET client_min_messages = warning;
SELECT GREATEST(:n / 5, 1000) AS nu \gset
CREATE TEMP TABLE fill_indexes AS
  SELECT i.indexname, i.indexdef FROM pg_indexes i
  WHERE i.schemaname = 'public' AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname);
SELECT 'DROP INDEX ' || quote_ident(indexname) FROM fill_indexes \gexec
INSERT INTO users(name, pass_hash, created_at)
  SELECT 'fill-user-' || lpad(g::text, 10, '0'), 'x', :updated FROM generate_series(1, :nu) g;
CREATE TEMP TABLE fill_uid AS
  SELECT g, u.id FROM generate_series(1, :nu) g JOIN users u ON u.name = 'fill-user-' || lpad(g::text, 10, '0');
INSERT INTO devices(device_id, user_id, name, created_at)
  SELECT 'fill-dev-' || lpad(g::text, 10, '0'), id, 'fill', :updated FROM fill_uid ORDER BY g;
INSERT INTO tokens(token_hash, device_id, user_id, expires_at)
  SELECT 'tok-' || lpad(g::text, 10, '0'), 'fill-dev-' || lpad(g::text, 10, '0'), 1000000 + g, :updated + 86400
  FROM generate_series(1, :nu) g;
INSERT INTO apps(app_id, user_id, name, kind, provider, shareable)
  SELECT 'fill-app-' || lpad(g::text, 10, '0'), id, 'fill', 'sim', 'operator', 1 FROM fill_uid ORDER BY g;
INSERT INTO companions(eid, euicc_pub, last_seen)
  SELECT ('7' || lpad(g::text, 31, '0')), '\x04'::bytea, :updated FROM generate_series(1, :nu) g;
INSERT INTO companion_owners(eid, user_id, since)
  SELECT ('7' || lpad(g::text, 31, '0')), 1000000 + g, :updated FROM generate_series(1, :nu) g;
INSERT INTO shares(id, user_id, device_id, eid, app_id, provider, state, duration_s, not_after,
    assoc_app_id, assoc_name, assoc_kind, credential, matching_id, reason, created_at, updated_at, operation)
  SELECT 'fill-' || lpad(g::text, 10, '0'), 1000000 + g % :nu, 'fill-dev-' || lpad((g % :nu)::text, 10, '0'),
    ('7' || lpad((g % :nu)::text, 31, '0')), 'fill-app-' || lpad((g % :nu)::text, 10, '0'), 'operator',
    CASE WHEN g % 3 = 0 THEN 'expired' ELSE 'revoked' END, 3600, :updated - 1,
    'fill-assoc-' || lpad(g::text, 10, '0'), 'fill', 'sim', NULL, 'm-' || lpad(g::text, 10, '0'), '',
    :updated - 7200, :updated, 'share'
  FROM generate_series(1, :n) g;
-- (one series per row, x = 5 g + i: the rows come in id order, no sort)
INSERT INTO events(id, user_id, share_id, type, data, created_at)
  SELECT x - (:n::bigint * 5 + 10), 1000000 + (x / 5) % :nu, 'fill-' || lpad((x / 5)::text, 10, '0'),
    (ARRAY['share.eid_confirmed', 'share.authorised', 'share.delivered', 'share.installed', 'share.revoked'])[x % 5 + 1],
    '{}', :updated
  FROM generate_series(5, :n::bigint * 5 + 4) x;
INSERT INTO companion_cmds(id, eid, share_id, type, data, done, created_at)
  SELECT x - (:n::bigint * 2 + 10), ('7' || lpad(((x / 2) % :nu)::text, 31, '0')),
    'fill-' || lpad((x / 2)::text, 10, '0'), (ARRAY['download', 'delete'])[x % 2 + 1], '{}', 1, :updated
  FROM generate_series(2, :n::bigint * 2 + 1) x;
INSERT INTO outbox(kind, share_id, call_id, attempts, next_at, lease_until, done)
  SELECT (ARRAY['cancel_order', 'confirm_order'])[x % 2 + 1], 'fill-' || lpad((x / 2)::text, 10, '0'),
    (ARRAY['cancel_order', 'confirm_order'])[x % 2 + 1] || '-' || lpad((x / 2)::text, 10, '0'), 1, 0, 0, 1
  FROM generate_series(2, :n::bigint * 2 + 1) x;
INSERT INTO es9_tx(id, share_id, eid, stage, created_at)
  SELECT 'tx-' || lpad(g::text, 10, '0'), 'fill-' || lpad(g::text, 10, '0'), ('7' || lpad((g % :nu)::text, 31, '0')),
    3, :updated
  FROM generate_series(1, :n) g;
INSERT INTO idempotency(device_id, key, req_hash, status, response, created_at)
  SELECT 'fill-dev-' || lpad((g % :nu)::text, 10, '0'), 'k-' || lpad(g::text, 10, '0'), 'h', 200, '{}', :updated
  FROM generate_series(1, :n) g;
INSERT INTO enroll_codes(code_hash, user_id, expires_at, used_at)
  SELECT 'code-' || lpad(g::text, 10, '0'), id, :updated - 60, :updated - 120 FROM fill_uid ORDER BY g;
INSERT INTO pass_throttle(key, attempts, window_start)
  SELECT 'device:fill-dev-' || lpad(g::text, 10, '0'), 1, :updated FROM generate_series(1, :nu) g;
INSERT INTO offer_nonces(nonce, share_id, expires_at)
  SELECT 'n-' || lpad(g::text, 10, '0'), 'fill-' || lpad(g::text, 10, '0'), :updated + 86400
  FROM generate_series(1, :nu) g;
-- SM-DS events of authorised shares still waiting for their download (one per
-- user: a store that grows carries some; share ids outside the filled shares)
INSERT INTO smds_events(share_id, eid, event_id, created_at)
  SELECT 'fill-pending-' || lpad(g::text, 10, '0'), ('7' || lpad(g::text, 31, '0')), 'ev-' || lpad(g::text, 10, '0'),
    :updated
  FROM generate_series(1, :nu) g;
-- shares that asked for a confirmation code (one in ten; issue 7)
INSERT INTO share_cc(share_id, cc_hash, attempts)
  SELECT 'fill-' || lpad(g::text, 10, '0'), md5('cc' || g) || md5('cc2' || g), 0 FROM generate_series(1, :n, 10) g;
-- the explicit indexes, built once over the filled tables
SELECT indexdef FROM fill_indexes \gexec
ANALYZE;
