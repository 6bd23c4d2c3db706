"""The read side: where money is counted. Reads the event log, never writes events."""
