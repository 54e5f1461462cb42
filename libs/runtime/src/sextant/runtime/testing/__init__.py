"""Real servers for tests: PostgreSQL, a Kafka-protocol broker and S3 (ARCHITECTURE §5)."""
