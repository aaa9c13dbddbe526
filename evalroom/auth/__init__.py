"""Identity: challenge-response login with the participant's Ed25519 key, short-lived tokens."""
