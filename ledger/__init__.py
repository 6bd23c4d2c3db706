"""The write side: where money moves. Nothing here knows about read models or the CLI."""
