// Imported first by tests that check the default local ports: the suite may run with a port offset
// (TICKLAKE_PORT_OFFSET) for a second stack, which must not change what these tests expect.
delete process.env.TICKLAKE_PORT_OFFSET;
