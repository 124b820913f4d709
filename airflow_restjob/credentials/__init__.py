"""Credentials: what each type holds (types), tokens and temporary AWS credentials (tokens, aws), kept in memory (cache)."""
