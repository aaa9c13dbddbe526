-- The spine: streams of events, the idempotency table, identities, roles, login challenges.

CREATE TABLE streams (
    name        text PRIMARY KEY,
    kind        text NOT NULL,                -- platform | tender | session
    parent      text REFERENCES streams(name),  -- a session's tender
    head        bigint NOT NULL DEFAULT 0,    -- seq of the last event; 0 = empty
    state       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE events (
    stream      text NOT NULL REFERENCES streams(name),
    seq         bigint NOT NULL,
    type        text NOT NULL,
    actor       text,
    at          timestamptz NOT NULL,
    payload     jsonb NOT NULL,
    visibility  text NOT NULL,
    sig         text,
    leaf_hash   bytea NOT NULL,
    PRIMARY KEY (stream, seq),
    CHECK (seq > 0)
);

-- A retried command with the same client id returns the first ack and writes nothing.
CREATE TABLE commands (
    actor       text NOT NULL,
    client_id   text NOT NULL,
    digest      bytea NOT NULL,
    stream      text NOT NULL,
    seq         bigint NOT NULL,
    result      jsonb NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor, client_id)
);

CREATE TABLE users (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    org         text,
    signing_key text NOT NULL,      -- ed25519:<base64url>
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Roles are held in a scope: 'platform', 'tender:<id>' or 'session:<id>'.
CREATE TABLE roles (
    user_id     text NOT NULL REFERENCES users(id),
    scope       text NOT NULL,
    role        text NOT NULL,
    venue       text NOT NULL DEFAULT '',
    granted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, scope, role, venue)
);
CREATE INDEX roles_scope ON roles (scope);

CREATE TABLE login_challenges (
    nonce       text PRIMARY KEY,
    user_id     text NOT NULL,
    expires_at  timestamptz NOT NULL
);

-- Secrets shared by every node of one deployment (token MAC key), made once.
CREATE TABLE node_secrets (
    name        text PRIMARY KEY,
    value       bytea NOT NULL
);

INSERT INTO streams (name, kind) VALUES ('platform', 'platform');
