-- Tokens revoked before their expiry (POST /auth/logout), checked whenever a token is used.
-- A row is useless once its token has expired, and is deleted some time after.
CREATE TABLE revoked_tokens (
    token_id    text PRIMARY KEY,           -- SHA-256 of the token, hex: the token is not kept
    user_id     text NOT NULL,
    expires_at  timestamptz NOT NULL,       -- the token's own expiry
    revoked_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX revoked_tokens_revoked_at ON revoked_tokens (revoked_at);
