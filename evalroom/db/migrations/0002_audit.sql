-- The audit log (evalroom/audit): signed tree heads of each stream's Merkle log.
-- The leaves are events.leaf_hash (0001); a checkpoint is a C2SP signed note over
-- (origin, size, root), signed with the deployment's log key (node_secrets 'log_ed25519').
-- Several nodes may sign the same (stream, size): the first insert wins, the others are
-- no-ops (Ed25519 is deterministic, so they would have written the same note anyway).

CREATE TABLE checkpoints (
    stream      text NOT NULL REFERENCES streams(name),
    size        bigint NOT NULL CHECK (size > 0),
    root        bytea NOT NULL CHECK (octet_length(root) = 32),
    note        text NOT NULL,                 -- the signed note, as served and exported
    reasons     text[] NOT NULL,               -- 'periodic', 'phase:<name>', 'receipt', ...
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, size)
);
