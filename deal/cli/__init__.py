"""Subcommands of the deal console command."""
