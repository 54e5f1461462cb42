"""The gateway's pure logic: no I/O."""
