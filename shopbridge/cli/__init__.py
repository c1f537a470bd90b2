"""Command line: parse, call a service, render."""
