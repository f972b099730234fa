-- schema-v1.sql - a plumb-hub database as the first release left it
-- (schema version 1), with one host, one report and one event, for the
-- migration check in tests/lib/hub_suite.sh. @SERIAL@ and @NOW@ are
-- replaced by the test (the engine's auto-increment key, the time).
CREATE TABLE plumb_schema (version INTEGER NOT NULL);
INSERT INTO plumb_schema (version) VALUES (1);
CREATE TABLE tokens (hash TEXT PRIMARY KEY, role TEXT NOT NULL, subject TEXT NOT NULL, created_at BIGINT NOT NULL, revoked_at BIGINT);
CREATE TABLE hosts (host TEXT PRIMARY KEY, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, last_finished BIGINT NOT NULL DEFAULT 0, last_report TEXT, commit_id TEXT, serial BIGINT, signer TEXT, fingerprint TEXT, stale INTEGER NOT NULL DEFAULT 0, mode TEXT, agent_version TEXT, unresolved INTEGER NOT NULL DEFAULT 0, last_drift_at BIGINT, reports BIGINT NOT NULL DEFAULT 0, events BIGINT NOT NULL DEFAULT 0, reverted BIGINT NOT NULL DEFAULT 0, failed BIGINT NOT NULL DEFAULT 0);
CREATE TABLE reports (id TEXT PRIMARY KEY, host TEXT NOT NULL, received_at BIGINT NOT NULL, finished_at BIGINT NOT NULL, commit_id TEXT, serial BIGINT, nevents INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX reports_received ON reports (received_at);
CREATE INDEX reports_host ON reports (host, finished_at);
CREATE TABLE events (seq @SERIAL@, report_id TEXT NOT NULL, host TEXT NOT NULL, received_at BIGINT NOT NULL, at BIGINT NOT NULL, resource TEXT NOT NULL, action TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX events_host ON events (host, seq);
CREATE INDEX events_received ON events (received_at);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_report ON events (report_id);
INSERT INTO hosts (host, first_seen, last_seen, last_finished, last_report, commit_id, serial, signer, mode, agent_version, unresolved, reports, events)
  VALUES ('old1', @NOW@, @NOW@, @NOW@, 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '0123456789abcdef0123456789abcdef01234567', 7, 'ci', 'enforce', '0.1.0', 0, 1, 1);
INSERT INTO reports (id, host, received_at, finished_at, commit_id, serial, nevents, body)
  VALUES ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'old1', @NOW@, @NOW@, NULL, 7, 1, '{"old":"report"}');
INSERT INTO events (report_id, host, received_at, at, resource, action, body)
  VALUES ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'old1', @NOW@, @NOW@, 'file:/etc/motd', 'reverted', '{"resource":"file:/etc/motd","action":"reverted","drift":["content"],"expected":null,"actual":null,"at":"2026-01-01T00:00:00Z"}');
