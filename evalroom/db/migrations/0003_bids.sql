-- Sealed bids: ciphertext uploads (and, after opening, plaintexts) stored in chunks, and the
-- keyholders' shares during a committee fallback (deleted once combined).

CREATE TABLE uploads (
    id          text PRIMARY KEY,
    tender      text NOT NULL,
    uploader    text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('cipher', 'plain')),
    size        bigint NOT NULL DEFAULT 0,
    sha256      bytea,
    complete    boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE upload_chunks (
    upload      text NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    n           int NOT NULL,
    data        bytea NOT NULL,
    PRIMARY KEY (upload, n)
);

CREATE TABLE opening_shares (
    tender      text NOT NULL,
    stage       text NOT NULL,
    holder      text NOT NULL,
    share       text NOT NULL,
    PRIMARY KEY (tender, stage, holder)
);
