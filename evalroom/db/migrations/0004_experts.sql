-- The shared expert pool (评标专家库): one row per expert, across regions.
CREATE TABLE experts (
    user_id     text PRIMARY KEY REFERENCES users(id),
    name        text NOT NULL,
    specialties text[] NOT NULL,
    region      text NOT NULL,
    employer    text NOT NULL,
    credit      numeric(6, 2) NOT NULL DEFAULT 80,
    available   boolean NOT NULL DEFAULT true,
    relations   text[] NOT NULL DEFAULT '{}',
    ratings     int NOT NULL DEFAULT 0
);

-- The platform's own actor for commands it issues (clock ticks, venue faults, draws).
INSERT INTO users (id, name, org, signing_key) VALUES ('system', '平台', NULL, 'none')
    ON CONFLICT (id) DO NOTHING;
