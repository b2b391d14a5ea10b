"""The HTTP API stage (`alertstream api`): history, audit trail, explanations and stats over the
PostgreSQL history the store keeps. Reads SQL only; imports neither streams nor consumers."""
