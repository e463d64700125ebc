-- SQLite twin of bench/fill_pg.sql: @N@ synthetic FINISHED shares (5 events,
-- 2 settled companion commands, 2 done outbox rows, 1 download session, 1
-- idempotency record each, one in ten a confirmation code) and @NU@ users
-- with their devices, tokens, apps, companions, owners and one pending SM-DS
-- event each; @UPDATED@ = the shares' last change (unix time).
-- bench/growth.sh substitutes the @...@ values and pipes it to sqlite3.
-- Fast: one transaction, no journal, a 1 GiB page cache, temporary tables in
-- memory; the share ids zero-padded (fill-0000000001 ...) so that every text
-- primary key is inserted in order (appended, not scattered over the B-tree).
-- bench/growth.sh drops the explicit indexes before and builds them after.
PRAGMA journal_mode=OFF;
PRAGMA synchronous=OFF;
PRAGMA locking_mode=EXCLUSIVE;
PRAGMA cache_size=-1048576;
PRAGMA temp_store=MEMORY;
BEGIN;
CREATE TEMP TABLE g AS WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < @N@)
  SELECT x, printf('%010d', x) AS p FROM s;
CREATE TEMP TABLE gu AS SELECT x, p FROM g WHERE x <= @NU@;
INSERT INTO users(name, pass_hash, created_at) SELECT 'fill-user-' || x, 'x', @UPDATED@ FROM gu;
INSERT INTO devices(device_id, user_id, name, created_at)
  SELECT 'fill-dev-' || x, (SELECT id FROM users WHERE name = 'fill-user-' || x), 'fill', @UPDATED@ FROM gu;
INSERT INTO tokens(token_hash, device_id, user_id, expires_at)
  SELECT 'tok-' || x, 'fill-dev-' || x, 1000000 + x, @UPDATED@ + 86400 FROM gu;
INSERT INTO apps(app_id, user_id, name, kind, provider, shareable)
  SELECT 'fill-app-' || x, (SELECT id FROM users WHERE name = 'fill-user-' || x), 'fill', 'sim', 'operator', 1 FROM gu;
INSERT INTO companions(eid, euicc_pub, last_seen) SELECT printf('7%031d', x), x'04', @UPDATED@ FROM gu;
INSERT INTO companion_owners(eid, user_id, since) SELECT printf('7%031d', x), 1000000 + x, @UPDATED@ FROM gu;
INSERT INTO shares(id, user_id, device_id, eid, app_id, provider, state, duration_s, not_after,
    assoc_app_id, assoc_name, assoc_kind, credential, matching_id, reason, created_at, updated_at, operation)
  SELECT 'fill-' || p, 1000000 + x % @NU@, 'fill-dev-' || (x % @NU@), printf('7%031d', x % @NU@),
    'fill-app-' || (x % @NU@), 'operator', CASE WHEN x % 3 = 0 THEN 'expired' ELSE 'revoked' END, 3600,
    @UPDATED@ - 1, 'fill-assoc-' || p, 'fill', 'sim', NULL, 'm-' || p, '', @UPDATED@ - 7200, @UPDATED@, 'share'
  FROM g;
INSERT INTO events(user_id, share_id, type, data, created_at)
  SELECT 1000000 + x % @NU@, 'fill-' || p, 'share.' || t.v, '{}', @UPDATED@ FROM g,
  (SELECT 'eid_confirmed' AS v UNION ALL SELECT 'authorised' UNION ALL SELECT 'delivered'
   UNION ALL SELECT 'installed' UNION ALL SELECT 'revoked') t;
INSERT INTO companion_cmds(eid, share_id, type, data, done, created_at)
  SELECT printf('7%031d', x % @NU@), 'fill-' || p, t.v, '{}', 1, @UPDATED@ FROM g,
  (SELECT 'download' AS v UNION ALL SELECT 'delete') t;
INSERT INTO outbox(kind, share_id, call_id, attempts, next_at, lease_until, done)
  SELECT t.v, 'fill-' || p, t.v || '-' || p, 1, 0, 0, 1 FROM g,
  (SELECT 'confirm_order' AS v UNION ALL SELECT 'cancel_order') t;
INSERT INTO es9_tx(id, share_id, eid, stage, created_at)
  SELECT 'tx-' || p, 'fill-' || p, printf('7%031d', x % @NU@), 3, @UPDATED@ FROM g;
INSERT INTO idempotency(device_id, key, req_hash, status, response, created_at)
  SELECT 'fill-dev-' || (x % @NU@), 'k-' || p, 'h', 200, '{}', @UPDATED@ FROM g;
INSERT INTO enroll_codes(code_hash, user_id, expires_at, used_at)
  SELECT 'code-' || x, (SELECT id FROM users WHERE name = 'fill-user-' || x), @UPDATED@ - 60, @UPDATED@ - 120 FROM gu;
INSERT INTO pass_throttle(key, attempts, window_start) SELECT 'device:fill-dev-' || x, 1, @UPDATED@ FROM gu;
INSERT INTO offer_nonces(nonce, share_id, expires_at) SELECT 'n-' || p, 'fill-' || p, @UPDATED@ + 86400 FROM gu;
-- SM-DS events of authorised shares still waiting for their download (one per
-- user: a store that grows carries some; share ids outside the filled shares),
-- as fill_pg.sql has them
INSERT INTO smds_events(share_id, eid, event_id, created_at)
  SELECT 'fill-pending-' || p, printf('7%031d', x), 'ev-' || p, @UPDATED@ FROM gu;
-- shares that asked for a confirmation code (one in ten; issue 7): SHA-256 hex
INSERT INTO share_cc(share_id, cc_hash, attempts) SELECT 'fill-' || p, printf('%064d', x), 0 FROM g WHERE x % 10 = 1;
-- the explicit indexes bench/growth.sh dropped before the fill, built once over
-- the filled tables (a sort each) instead of row by row; growth.sh puts them here:
-- @INDEXES@
COMMIT;
PRAGMA journal_mode=WAL;
