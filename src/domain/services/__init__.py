"""Use cases: each reads like the sentence it implements and keeps no rule of its own."""
