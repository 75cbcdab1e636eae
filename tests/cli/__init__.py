"""The command-line application's tests (labridge.cli): in-process and as real processes."""
