-- Fills a tapshare PostgreSQL store (schema >= 8) with :n synthetic FINISHED
-- shares and what a finished share leaves behind: 5 events, 2 settled
-- companion commands, 2 done outbox rows, 1 download session, 1 idempotency
-- record each; plus n/5 (at least 1000) users, devices, tokens, apps,
-- companions, owners, enrolment codes, throttle windows and offer nonces. Bulk INSERT ... SELECT generate_series, then ANALYZE. Used by
-- tests/integration/test_pg_plans.sh (query plans on a filled store) and
-- bench/growth.sh (throughput as the store grows). Run with
--   psql -v n=100000 -v updated=<unix time> -f bench/fill_pg.sql
-- `updated` is the shares' last change (keep it inside the retention period
-- unless pruning is what you measure).
\set ON_ERROR_STOP on
SET synchronous_commit = off;
SELECT GREATEST(:n / 5, 1000) AS nu \gset
INSERT INTO users(name, pass_hash, created_at)
  SELECT 'fill-user-' || g, 'x', :updated FROM generate_series(1, :nu) g;
INSERT INTO devices(device_id, user_id, name, created_at)
  SELECT 'fill-dev-' || g, u.id, 'fill', :updated FROM generate_series(1, :nu) g
  JOIN users u ON u.name = 'fill-user-' || g;
INSERT INTO tokens(token_hash, device_id, user_id, expires_at)
  SELECT md5('tok' || g), 'fill-dev-' || g, 1000000 + g, :updated + 86400 FROM generate_series(1, :nu) g;
INSERT INTO apps(app_id, user_id, name, kind, provider, shareable)
  SELECT 'fill-app-' || g, u.id, 'fill', 'sim', 'operator', 1 FROM generate_series(1, :nu) g
  JOIN users u ON u.name = 'fill-user-' || g;
INSERT INTO companions(eid, euicc_pub, last_seen)
  SELECT ('7' || lpad(g::text, 31, '0')), '\x04'::bytea, :updated FROM generate_series(1, :nu) g;
INSERT INTO companion_owners(eid, user_id, since)
  SELECT ('7' || lpad(g::text, 31, '0')), 1000000 + g, :updated FROM generate_series(1, :nu) g;
INSERT INTO shares(id, user_id, device_id, eid, app_id, provider, state, duration_s, not_after,
    assoc_app_id, assoc_name, assoc_kind, credential, matching_id, reason, created_at, updated_at, operation)
  SELECT 'fill-' || g, 1000000 + g % :nu, 'fill-dev-' || (g % :nu), ('7' || lpad((g % :nu)::text, 31, '0')),
    'fill-app-' || (g % :nu), 'operator', CASE WHEN g % 3 = 0 THEN 'expired' ELSE 'revoked' END, 3600,
    :updated - 1, 'fill-assoc-' || g, 'fill', 'sim', NULL, md5('m' || g), '', :updated - 7200, :updated, 'share'
  FROM generate_series(1, :n) g;
INSERT INTO events(user_id, share_id, type, data, created_at)
  SELECT 1000000 + g % :nu, 'fill-' || g, 'share.' || t, '{}', :updated
  FROM generate_series(1, :n) g, unnest(ARRAY['eid_confirmed','authorised','delivered','installed','revoked']) t;
INSERT INTO companion_cmds(eid, share_id, type, data, done, created_at)
  SELECT ('7' || lpad((g % :nu)::text, 31, '0')), 'fill-' || g, t, '{}', 1, :updated
  FROM generate_series(1, :n) g, unnest(ARRAY['download','delete']) t;
INSERT INTO outbox(kind, share_id, call_id, attempts, next_at, lease_until, done)
  SELECT t, 'fill-' || g, md5(t || g), 1, 0, 0, 1
  FROM generate_series(1, :n) g, unnest(ARRAY['confirm_order','cancel_order']) t;
INSERT INTO es9_tx(id, share_id, eid, stage, created_at)
  SELECT md5('tx' || g), 'fill-' || g, ('7' || lpad((g % :nu)::text, 31, '0')), 3, :updated
  FROM generate_series(1, :n) g;
INSERT INTO idempotency(device_id, key, req_hash, status, response, created_at)
  SELECT 'fill-dev-' || (g % :nu), md5('k' || g), 'h', 200, '{}', :updated FROM generate_series(1, :n) g;
INSERT INTO enroll_codes(code_hash, user_id, expires_at, used_at)
  SELECT md5('code' || g), u.id, :updated - 60, :updated - 120 FROM generate_series(1, :nu) g
  JOIN users u ON u.name = 'fill-user-' || g;
INSERT INTO pass_throttle(key, attempts, window_start)
  SELECT 'device:fill-dev-' || g, 1, :updated FROM generate_series(1, :nu) g;
INSERT INTO offer_nonces(nonce, share_id, expires_at)
  SELECT md5('n' || g), 'fill-' || g, :updated + 86400 FROM generate_series(1, :nu) g;
-- SM-DS events of authorised shares still waiting for their download (one per
-- user: a store that grows carries some; share ids outside the filled shares)
INSERT INTO smds_events(share_id, eid, event_id, created_at)
  SELECT 'fill-pending-' || g, ('7' || lpad(g::text, 31, '0')), md5('ev' || g), :updated
  FROM generate_series(1, :nu) g;
-- shares that asked for a confirmation code (one in ten; issue 7)
INSERT INTO share_cc(share_id, cc_hash, attempts)
  SELECT 'fill-' || g, md5('cc' || g) || md5('cc2' || g), 0 FROM generate_series(1, :n, 10) g;
ANALYZE;
