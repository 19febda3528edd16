"""Tests of fleet.model: what the vocabulary itself means (a selector's matching rules)."""
