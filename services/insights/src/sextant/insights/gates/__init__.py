"""CI/CD quality gates: policies over delivery facts, evaluated for a SHA and kept as evidence."""
