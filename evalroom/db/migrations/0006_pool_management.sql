-- Managing the pool in the product (专家库管理): suspension, and a record of every change.

-- A suspended expert (暂停抽取) stays in the pool, so its history and credit are kept, but the
-- snapshot a draw commits to shows it unavailable and the draw never seats it.
ALTER TABLE experts
    ADD COLUMN suspended_at     timestamptz,
    ADD COLUMN suspended_reason text,
    ADD COLUMN suspended_by     text,
    ADD CONSTRAINT experts_suspension_has_reason
        CHECK ((suspended_at IS NULL) = (suspended_reason IS NULL));

-- Who changed the pool, what and why: appended to, never updated. An import, a suspension,
-- a credit set by hand and declared relations each leave one row per expert they touch.
CREATE TABLE expert_changes (
    id       bigserial PRIMARY KEY,
    user_id  text NOT NULL REFERENCES experts(user_id),
    action   text NOT NULL,
    detail   jsonb NOT NULL DEFAULT '{}',
    reason   text,
    actor    text NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX expert_changes_by_expert ON expert_changes (user_id, id);
