"""Identity's pure logic: what makes two aliases the same person (no I/O here)."""
