"""The click front end: parse options, call one ledger function, render, map errors to exit codes."""
