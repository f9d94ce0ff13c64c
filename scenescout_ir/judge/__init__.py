"""Judgement: pure functions from probe results to findings, causes and the verdict.

May import core and the probes' result records; never pytest, never I/O."""
