-- Where each sealed bid came from (投标来源): the client address the node saw and the login
-- key the upload was authenticated with, one row per upload, for the identity red flags
-- (the same IP or key behind two bidders). Kept with the upload, gone with it.
CREATE TABLE upload_origins (
    upload      text PRIMARY KEY REFERENCES uploads(id) ON DELETE CASCADE,
    client_ip   text,
    login_key   text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
